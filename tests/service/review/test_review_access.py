"""Who may review: signing in and out, throttled guessing, secure cookies, tokens, escaping, the secret."""

import re
import stat
from pathlib import Path

from click.testing import CliRunner
from review_support import CLEAN, _decide, _decisions, _sign_in, _signed_in, _stored
from sqlalchemy import select

from faceage_cli import main
from service.app import create_app
from service.auth import create_reviewer
from service.config import Settings
from service.models import Reviewer


def test_the_page_and_its_api_need_a_signed_in_reviewer(app, ids):
    client = app.test_client()
    page = client.get("/review/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/review/login")
    listing = client.get("/review/api/images")
    assert listing.status_code == 401 and listing.get_json()["error"]["code"] == "unauthorized"
    write = _decide(client, ids[CLEAN], 0, "accept")
    assert write.status_code == 401
    assert client.get(f"/review/api/images/{ids[CLEAN]}/thumbnail.jpg").status_code == 401


def test_a_wrong_password_or_an_unknown_name_is_refused(app, database):
    create_reviewer(database, "ada")
    client = app.test_client()
    for name, password in [("ada", "not-her-password"), ("nobody", "whatever"), ("ada", "")]:
        refused = _sign_in(client, name, password)
        assert refused.status_code == 401 and "Wrong name or password" in refused.get_data(as_text=True)
        assert client.get("/review/api/images").status_code == 401


def test_password_guessing_is_throttled_and_good_sign_ins_never_are(settings, database):
    password = create_reviewer(database, "ada")
    careful = create_app(settings, enqueue=lambda job_id: None).test_client()
    assert all(_sign_in(careful, "ada", password).status_code == 302 for _ in range(12))
    guesser = create_app(settings, enqueue=lambda job_id: None).test_client()
    assert all(_sign_in(guesser, "ada", f"guess-{i}").status_code == 401 for i in range(10))
    throttled = _sign_in(guesser, "ada", password)  # the right password, too late: the page answers 429
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


def test_the_session_cookie_is_secure_over_https_and_by_the_setting(settings, database):
    from dataclasses import replace

    password = create_reviewer(database, "ada")

    def cookie(app, base_url):
        client = app.test_client()
        form = client.get("/review/login", base_url=base_url).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        reply = client.post(
            "/review/login", base_url=base_url, data={"name": "ada", "password": password, "csrf_token": token}
        )
        return next(h for h in reply.headers.getlist("Set-Cookie") if h.startswith("faceage_session="))

    plain = create_app(settings, enqueue=lambda job_id: None)
    assert "Secure" not in cookie(plain, "http://localhost")
    assert "Secure" in cookie(plain, "https://localhost")
    behind_proxy = create_app(replace(settings, secure_cookies=True), enqueue=lambda job_id: None)
    assert "Secure" in cookie(behind_proxy, "http://localhost")


def test_a_login_form_without_its_token_is_refused(app, database):
    password = create_reviewer(database, "ada")
    client = app.test_client()
    assert client.post("/review/login", data={"name": "ada", "password": password}).status_code == 400
    assert client.get("/review/api/images").status_code == 401


def test_the_cli_creates_a_reviewer_whose_password_is_printed_once_and_stored_hashed(app, settings, database):
    cli = CliRunner(env={"FACEAGE_DATA_DIR": settings.data_dir, "FACEAGE_DATABASE_URL": settings.database_url})
    created = cli.invoke(main, ["reviewer", "create", "grace"])
    assert created.exit_code == 0, created.output
    password = created.output.strip().splitlines()[-1]
    with database.session() as session:
        stored = session.scalars(select(Reviewer).where(Reviewer.name == "grace")).one()
    assert stored.password_hash.startswith("scrypt:") and password not in stored.password_hash
    assert _sign_in(app.test_client(), "grace", password).status_code == 302
    again = cli.invoke(main, ["reviewer", "create", "grace"])
    assert again.exit_code != 0 and "already" in again.output


def test_signing_out_ends_the_session(app, database, reviewer):
    _name, client = reviewer
    page = client.get("/review/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/review/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/review/api/images").status_code == 401


def test_changes_need_the_custom_header_that_another_site_cannot_send(reviewer, ids, database):
    _name, client = reviewer
    forged = client.post(f"/review/api/images/{ids[CLEAN]}/decision", json={"action": "reject", "version": 0})
    assert forged.status_code == 403 and "X-Requested-With" in forged.get_json()["error"]["message"]
    assert _stored(database, ids[CLEAN]).status.value == "pending" and _decisions(database, ids[CLEAN]) == []


def test_the_reviewer_name_and_the_file_names_are_escaped_on_the_page(app, database):
    _name, client = _signed_in(app, database, "<b>ada</b>")
    page = client.get("/review/").get_data(as_text=True)
    assert "&lt;b&gt;ada&lt;/b&gt;" in page and "<b>ada</b>" not in page
    assert "textContent" in client.get("/static/review.js").get_data(as_text=True)


# --- The queue and the detail -----------------------------------------------------------------------------


def test_the_session_secret_is_generated_once_and_kept_private_in_the_data_dir(settings, database):
    first = create_app(settings, enqueue=lambda job_id: None)
    second = create_app(settings, enqueue=lambda job_id: None)
    kept = Path(settings.data_dir) / "secret_key"
    assert first.secret_key == second.secret_key == kept.read_text().strip() and len(first.secret_key) >= 64
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    configured = Settings.from_env({"FACEAGE_DATA_DIR": settings.data_dir, "FACEAGE_SECRET_KEY": "from-the-operator"})
    assert create_app(configured, enqueue=lambda job_id: None).secret_key == "from-the-operator"


# --- In a real browser, by keyboard only ---------------------------------------------------------------------------
