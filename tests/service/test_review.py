"""The curators' review page: reviewers sign in, go through the images most suspicious first, and decide;
every decision is recorded, can be undone, and never overwrites another reviewer's."""

import io
import re
import stat
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from curation.flags import flag
from faceage_cli import main
from service import dataset
from service.app import create_app
from service.auth import create_reviewer
from service.config import Settings
from service.database import Database
from service.models import DatasetImage, ReviewDecision, Reviewer

HEADERS = {"X-Requested-With": "test"}
# A file name that is also markup: the page must show it as text, never run it.
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">.jpg'
BLURRED, DARK, GRAY = (
    "62_1_2_20170101000000003.jpg.chip.jpg",
    "8_0_1_20170101000000004.jpg.chip.jpg",
    "45_0_3_20170101000000005.jpg.chip.jpg",
)
CLEAN, MIRRORED = "34_1_0_20170101000000001.jpg.chip.jpg", "35_1_0_20170101000000002.jpg.chip.jpg"
# Flags the curation passes would have raised (the passes have their own tests): they give the queue an order.
# The hostile name raises malformed_name (5.0) on import and comes first.
FLAGS = {
    BLURRED: [flag("blurred", 3.0, sharpness=12.5)],
    DARK: [flag("underexposed", 2.0, brightness=40.0), flag("age_label_outlier", 1.5, estimated_age=31.0)],
    GRAY: [flag("grayscale", 1.2)],
}
SUSPICION_ORDER = [HOSTILE_NAME, BLURRED, DARK, GRAY, CLEAN, MIRRORED]


def _jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut) -> Path:
    """Six dataset images made from the astronaut, named like UTKFace chips (age_gender_race_date)."""
    chip = np.ascontiguousarray(astronaut[25:225, 122:322])
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    root = tmp_path_factory.mktemp("review-dataset")
    for name, pixels in {
        CLEAN: chip,
        MIRRORED: chip[:, ::-1],
        BLURRED: cv2.GaussianBlur(chip, (0, 0), 3),
        DARK: (chip * 0.4).astype(np.uint8),
        GRAY: np.repeat(gray[..., None], 3, axis=2),
        HOSTILE_NAME: cv2.resize(chip, (180, 180)),
    }.items():
        (root / name).write_bytes(_jpeg(pixels))
    return root


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), rate_limit="1000/minute")


@pytest.fixture
def database(settings, folder, fresh_database) -> Database:
    """A fresh database holding the folder's images, imported as `faceage dataset import` does, and flagged."""
    db = fresh_database(settings.database_url)
    dataset.import_files(db, dataset.dataset_files(folder))
    with db.session() as session:
        for image in session.scalars(select(DatasetImage)):
            dataset.replace_flags(session, image, FLAGS.get(Path(image.source_path).name, []), [])
    yield db
    db.dispose()


@pytest.fixture
def app(settings, database):
    return create_app(settings, enqueue=lambda job_id: None)


@pytest.fixture
def ids(database) -> dict[str, int]:
    with database.session() as session:
        return {Path(i.source_path).name: i.id for i in session.scalars(select(DatasetImage))}


@pytest.fixture
def reviewer(app, database):
    """A signed-in reviewer's client: (name, test client)."""
    return _signed_in(app, database, "ada")


def _signed_in(app, database, name: str):
    password = create_reviewer(database, name)
    client = app.test_client()
    response = _sign_in(client, name, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/review/")
    return name, client


def _sign_in(client, name: str, password: str):
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client.post("/review/login", data={"name": name, "password": password, "csrf_token": token})


def _decide(client, image_id: int, version: int, action: str, **labels):
    return client.post(
        f"/review/api/images/{image_id}/decision",
        json={"action": action, "version": version, **labels},
        headers=HEADERS,
    )


def _image(client, image_id: int) -> dict:
    return client.get(f"/review/api/images/{image_id}").get_json()


def _queue(client, **filters) -> dict:
    return client.get("/review/api/images", query_string=filters).get_json()


def _decisions(database, image_id: int) -> list[ReviewDecision]:
    with database.session() as session:
        return list(
            session.scalars(
                select(ReviewDecision).where(ReviewDecision.image_id == image_id).order_by(ReviewDecision.id)
            )
        )


def _stored(database, image_id: int) -> DatasetImage:
    with database.session() as session:
        return session.get(DatasetImage, image_id)


# --- Signing in -----------------------------------------------------------------------------------------


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


def test_the_queue_is_sorted_by_suspicion_with_the_progress(reviewer):
    _name, client = reviewer
    queue = _queue(client)
    assert [i["name"] for i in queue["images"]] == SUSPICION_ORDER
    assert (queue["reviewed"], queue["total"], queue["matching"]) == (0, 6, 6)
    assert all("path" not in image for image in queue["images"])  # the server's paths stay on the server
    assert [i["name"] for i in _queue(client, offset=1, limit=2)["images"]] == SUSPICION_ORDER[1:3]


def test_the_detail_shows_labels_every_flag_and_the_thumbnail(reviewer, ids):
    _name, client = reviewer
    image = _image(client, ids[DARK])
    assert (image["age"], image["gender"], image["race"], image["status"]) == (8, 0, 1, "pending")
    assert [(f["name"], f["score"], f["details"]) for f in image["flags"]] == [
        ("underexposed", 2.0, {"brightness": 40.0}),
        ("age_label_outlier", 1.5, {"estimated_age": 31.0}),
    ]
    assert image["decisions"] == []
    thumbnail = client.get(f"/review/api/images/{ids[DARK]}/thumbnail.jpg")
    assert thumbnail.mimetype == "image/jpeg" and Image.open(io.BytesIO(thumbnail.data)).size == (128, 128)
    assert client.get("/review/api/images/999999").status_code == 404


def test_filters_by_flag_age_race_status_and_reviewer(app, database, reviewer, ids):
    name, client = reviewer
    version = _image(client, ids[CLEAN])["version"]
    assert _decide(client, ids[CLEAN], version, "accept").status_code == 200
    assert _decide(client, ids[GRAY], 0, "correct", age=70).status_code == 200

    def names(**filters):
        return {i["name"] for i in _queue(client, **filters)["images"]}

    assert names(flag="underexposed") == {DARK}
    assert names(min_age=40, max_age=65) == {BLURRED}  # GRAY was 45 but is corrected to 70
    assert names(min_age=66) == {GRAY}
    assert names(race=0) == {CLEAN, MIRRORED}
    assert names(status="accepted") == {CLEAN}
    assert names(reviewer=name) == {CLEAN, GRAY}
    assert names(reviewer="someone else") == set()
    in_race_zero = _queue(client, race=0, status="pending")
    assert (in_race_zero["matching"], in_race_zero["reviewed"], in_race_zero["total"]) == (1, 1, 2)
    bad = client.get("/review/api/images", query_string={"status": "maybe"})
    assert bad.status_code == 400 and "status" in bad.get_json()["error"]["message"]
    assert client.get("/review/api/images", query_string={"min_age": "old"}).status_code == 400
    facets = client.get("/review/api/facets").get_json()
    assert {"blurred", "malformed_name", "underexposed"} <= {f["name"] for f in facets["flags"]}
    assert facets["reviewers"] == [name] and facets["races"] == [0, 1, 2, 3]


# --- Decisions ------------------------------------------------------------------------------------------------


def test_each_decision_is_recorded_with_who_when_before_and_after(reviewer, database, ids):
    name, client = reviewer
    accepted = _decide(client, ids[BLURRED], 0, "accept")
    assert accepted.status_code == 200
    image = accepted.get_json()["image"]
    assert (image["status"], image["version"]) == ("accepted", 1)
    corrected = _decide(client, ids[BLURRED], 1, "correct", age=58, gender=0).get_json()["image"]
    assert (corrected["effective_age"], corrected["effective_gender"], corrected["version"]) == (58, 0, 2)

    first, second = _decisions(database, ids[BLURRED])
    assert (first.reviewer, first.action, second.action) == (name, "accept", "correct")
    assert first.decided_at is not None and first.decided_at <= second.decided_at
    assert first.before == {"status": "pending", "corrected_age": None, "corrected_gender": None}
    assert first.after == {"status": "accepted", "corrected_age": None, "corrected_gender": None}
    assert second.before == first.after
    assert second.after == {"status": "accepted", "corrected_age": 58, "corrected_gender": 0}
    history = _image(client, ids[BLURRED])["decisions"]
    assert [(d["reviewer"], d["action"], d["undone"]) for d in history] == [
        (name, "accept", False),
        (name, "correct", False),
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"action": "accept"}, "version"),
        ({"action": "approve", "version": 0}, "unknown review action"),
        ({"action": "correct", "version": 0}, "an age or a gender"),
        ({"action": "correct", "version": 0, "age": 300}, "0 to 120"),
        ({"action": "correct", "version": 0, "age": "forty"}, "whole number"),
        ({"action": "correct", "version": 0, "gender": 2}, "gender"),
    ],
)
def test_an_impossible_decision_is_refused_and_changes_nothing(reviewer, database, ids, body, message):
    _name, client = reviewer
    refused = client.post(f"/review/api/images/{ids[DARK]}/decision", json=body, headers=HEADERS)
    assert refused.status_code == 400 and message in refused.get_json()["error"]["message"]
    assert _decisions(database, ids[DARK]) == [] and _stored(database, ids[DARK]).review_version == 0


HUGE = 2**70


@pytest.mark.parametrize(
    "method, url, body, named",
    [
        ("get", "/review/api/images?offset=99999999999999999999999", None, "offset"),
        ("get", "/review/api/images?limit=99999999999999999999999", None, "limit"),
        ("get", f"/review/api/images?race={HUGE}", None, "race"),
        ("get", f"/review/api/images?min_age={HUGE}", None, "min_age"),
        ("get", f"/review/api/images?max_age=-{HUGE}", None, "max_age"),
        ("get", f"/review/api/images/{HUGE}", None, "image id"),
        ("get", f"/review/api/images/{HUGE}/thumbnail.jpg", None, "image id"),
        ("post", f"/review/api/images/{HUGE}/decision", {"action": "accept", "version": 0}, "image id"),
        ("post", "/review/api/images/1/decision", {"action": "accept", "version": HUGE}, "version"),
        ("post", "/review/api/images/1/decision", {"action": "accept", "version": -HUGE}, "version"),
        ("post", "/review/api/decisions", {"action": "accept", "images": [{"id": HUGE, "version": 0}]}, "image id"),
        ("post", "/review/api/decisions", {"action": "accept", "images": [{"id": 1, "version": HUGE}]}, "version"),
    ],
)
def test_an_integer_out_of_range_is_refused_with_400_naming_it(reviewer, method, url, body, named):
    _name, client = reviewer
    refused = getattr(client, method)(url, json=body, headers=HEADERS)
    assert refused.status_code == 400, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid" and named in error["message"] and "from" in error["message"]


def test_undo_takes_back_the_last_decision_then_the_one_before(reviewer, database, ids):
    _name, client = reviewer
    _decide(client, ids[BLURRED], 0, "reject")
    _decide(client, ids[DARK], 0, "correct", age=30)
    undone = client.post("/review/api/undo", headers=HEADERS)
    assert undone.status_code == 200
    assert [(i["id"], i["corrected_age"]) for i in undone.get_json()["images"]] == [(ids[DARK], None)]
    assert _stored(database, ids[BLURRED]).status.value == "rejected"  # the earlier decision stands
    client.post("/review/api/undo", headers=HEADERS)
    assert _stored(database, ids[BLURRED]).status.value == "pending"
    nothing = client.post("/review/api/undo", headers=HEADERS)
    assert nothing.status_code == 404 and "no decision left" in nothing.get_json()["error"]["message"]

    reject, undo = _decisions(database, ids[BLURRED])
    assert (reject.action, undo.action) == ("reject", "undo") and reject.undone_at is not None
    assert (undo.before, undo.after) == (reject.after, reject.before)  # an undo is a decision too


def test_bulk_decisions_apply_to_every_selected_image_and_undo_as_one(reviewer, database, ids):
    _name, client = reviewer
    chosen = [ids[CLEAN], ids[MIRRORED], ids[GRAY]]
    done = client.post(
        "/review/api/decisions",
        headers=HEADERS,
        json={"action": "reject", "images": [{"id": i, "version": 0} for i in chosen]},
    )
    assert done.status_code == 200
    assert [(i["id"], i["status"]) for i in done.get_json()["images"]] == [(i, "rejected") for i in chosen]
    assert _queue(client)["reviewed"] == 3
    undone = client.post("/review/api/undo", headers=HEADERS).get_json()["images"]
    assert sorted(i["id"] for i in undone) == sorted(chosen)
    assert all(_stored(database, i).status.value == "pending" for i in chosen)


def test_a_bulk_decision_with_one_stale_image_changes_none_of_them(reviewer, database, ids):
    _name, client = reviewer
    _decide(client, ids[GRAY], 0, "accept")
    stale = client.post(
        "/review/api/decisions",
        headers=HEADERS,
        json={"action": "reject", "images": [{"id": ids[CLEAN], "version": 0}, {"id": ids[GRAY], "version": 0}]},
    )
    assert stale.status_code == 409 and stale.get_json()["error"]["image_ids"] == [ids[GRAY]]
    assert (
        _stored(database, ids[CLEAN]).status.value == "pending"
        and _stored(database, ids[GRAY]).status.value == "accepted"
    )


# --- Several reviewers at once ----------------------------------------------------------------------------------


def test_a_stale_write_is_refused_with_409_and_nothing_is_lost(app, database, ids):
    ada, ada_client = _signed_in(app, database, "ada")
    bob, bob_client = _signed_in(app, database, "bob")
    seen_by_ada = _image(ada_client, ids[BLURRED])["version"]
    seen_by_bob = _image(bob_client, ids[BLURRED])["version"]

    assert _decide(ada_client, ids[BLURRED], seen_by_ada, "accept").status_code == 200
    stale = _decide(bob_client, ids[BLURRED], seen_by_bob, "reject")
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "stale" and error["image_ids"] == [ids[BLURRED]]
    assert "changed by ada (accept)" in error["message"] and "decide again" in error["message"]
    assert _stored(database, ids[BLURRED]).status.value == "accepted"

    reloaded = _image(bob_client, ids[BLURRED])  # what the page does on a 409
    assert reloaded["status"] == "accepted"
    assert _decide(bob_client, ids[BLURRED], reloaded["version"], "reject").status_code == 200
    assert [(d.reviewer, d.action) for d in _decisions(database, ids[BLURRED])] == [(ada, "accept"), (bob, "reject")]


def test_undo_never_erases_another_reviewers_later_decision(app, database, ids):
    _ada, ada_client = _signed_in(app, database, "ada")
    _bob, bob_client = _signed_in(app, database, "bob")
    _decide(ada_client, ids[DARK], 0, "accept")
    _decide(bob_client, ids[DARK], 1, "reject")
    refused = ada_client.post("/review/api/undo", headers=HEADERS)
    assert refused.status_code == 409 and "changed by bob (reject)" in refused.get_json()["error"]["message"]
    assert _stored(database, ids[DARK]).status.value == "rejected"
    assert bob_client.post("/review/api/undo", headers=HEADERS).status_code == 200  # bob's own: back to accepted
    assert _stored(database, ids[DARK]).status.value == "accepted"


def test_reviewers_deciding_at_the_same_moment_one_wins_the_others_get_409(app, database, ids):
    clients = [_signed_in(app, database, f"reviewer-{n}")[1] for n in range(4)]
    start, answers = threading.Barrier(len(clients)), []

    def decide(client, action):
        start.wait()
        answers.append(_decide(client, ids[MIRRORED], 0, action).status_code)

    threads = [threading.Thread(target=decide, args=(c, a)) for c, a in zip(clients, ["accept", "reject"] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409, 409, 409]
    [decision] = _decisions(database, ids[MIRRORED])
    assert _stored(database, ids[MIRRORED]).status.value == decision.after["status"]
    assert _stored(database, ids[MIRRORED]).review_version == 1


# --- The session's secret ---------------------------------------------------------------------------------------


def test_the_session_secret_is_generated_once_and_kept_private_in_the_data_dir(settings, database):
    first = create_app(settings, enqueue=lambda job_id: None)
    second = create_app(settings, enqueue=lambda job_id: None)
    kept = Path(settings.data_dir) / "secret_key"
    assert first.secret_key == second.secret_key == kept.read_text().strip() and len(first.secret_key) >= 64
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    configured = Settings.from_env({"FACEAGE_DATA_DIR": settings.data_dir, "FACEAGE_SECRET_KEY": "from-the-operator"})
    assert create_app(configured, enqueue=lambda job_id: None).secret_key == "from-the-operator"


# --- In a real browser, by keyboard only ---------------------------------------------------------------------------


@pytest.fixture
def live_review(app):
    """The app on a real port, in a thread of the test process."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_reviewer_signs_in_and_reviews_by_keyboard_only(page, live_review, database, ids, tmp_path):
    password = create_reviewer(database, "ada")
    page.goto(live_review + "/review/")
    assert page.url.endswith("/review/login")
    page.wait_for_selector("#name:focus")  # autofocus lands once the page has settled; keys before it are lost
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.tile[aria-current=true][data-id="{ids[HOSTILE_NAME]}"]')
    page.wait_for_selector(f'#detail[data-id="{ids[HOSTILE_NAME]}"]')
    assert page.text_content("#detail-name") == HOSTILE_NAME  # shown as text, not run
    assert page.evaluate("window.pwned") is None
    assert page.text_content("#progress") == "reviewed 0 of 6"
    assert "undo your last decision" in page.text_content(".shortcuts")

    page.keyboard.press("a")  # accept the first, move to the second
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=accepted]')
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("r")  # reject the second, move to the third
    page.wait_for_selector(f'.tile[data-id="{ids[BLURRED]}"][data-status=rejected]')
    page.wait_for_selector(f'#detail[data-id="{ids[DARK]}"]')
    page.wait_for_selector("#progress:has-text('reviewed 2 of 6')")

    page.keyboard.press("e")  # fix the third's age
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail-age:has-text('42 (corrected from 8)')")
    assert _stored(database, ids[DARK]).corrected_age == 42

    page.keyboard.press("u")  # and think better of it
    page.wait_for_selector("#message:has-text('Undone')")
    page.wait_for_selector("#detail-age:text-is('8')")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

    statuses = {name: _stored(database, ids[name]) for name in (HOSTILE_NAME, BLURRED, DARK)}
    assert statuses[HOSTILE_NAME].status.value == "accepted" and statuses[BLURRED].status.value == "rejected"
    assert statuses[DARK].status.value == "pending" and statuses[DARK].corrected_age is None
    correct, undo = _decisions(database, ids[DARK])
    assert (correct.action, correct.after["corrected_age"], correct.undone_at is not None) == ("correct", 42, True)
    assert (undo.action, undo.reviewer, undo.after["corrected_age"]) == ("undo", "ada", None)
    assert [d.action for d in _decisions(database, ids[HOSTILE_NAME])] == ["accept"]


def test_the_page_shows_a_stale_write_reloads_the_image_and_decides_on_a_selection(
    page, live_review, app, database, ids
):
    password = create_reviewer(database, "ada")
    _bob, bob_client = _signed_in(app, database, "bob")
    page.goto(live_review + "/review/login")
    page.fill("#name", "ada")
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#detail[data-id="{ids[HOSTILE_NAME]}"]')

    assert _decide(bob_client, ids[HOSTILE_NAME], 0, "reject").status_code == 200  # while ada looks at it
    page.keyboard.press("a")
    page.wait_for_selector("#message:has-text('changed by bob (reject)')")
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=rejected]')  # reloaded, still here
    assert page.get_attribute("#detail", "data-id") == str(ids[HOSTILE_NAME])
    assert _stored(database, ids[HOSTILE_NAME]).status.value == "rejected"

    page.keyboard.press("j")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("g")  # BLURRED is labelled female
    page.wait_for_selector("#detail-gender:has-text('male (corrected from female)')")
    page.keyboard.press("x")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    page.keyboard.press("Shift+A")
    page.wait_for_selector("#message:has-text('Accepted 2 image(s)')")
    assert {_stored(database, ids[name]).status.value for name in (BLURRED, DARK)} == {"accepted"}
    assert _stored(database, ids[BLURRED]).corrected_gender == 0
    assert page.locator(".tile.selected").count() == 0


def _open_review(page, live_review, database) -> None:
    password = create_reviewer(database, "ada")
    page.goto(live_review + "/review/login")
    page.fill("#name", "ada")
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden])")


def test_in_a_filter_the_shortcut_keys_neither_decide_nor_change_it(page, live_review, database, ids):
    _open_review(page, live_review, database)
    page.focus("#filter-status")
    page.keyboard.press("a")  # a select's own type-ahead would pick "accepted"
    page.keyboard.press("r")
    assert page.input_value("#filter-status") == ""
    assert page.locator(".tile[data-status=accepted], .tile[data-status=rejected]").count() == 0
    assert "Esc" in page.text_content("#message")
    page.keyboard.press("Escape")  # back to the images, where the keys work
    page.wait_for_function("document.activeElement.classList.contains('tile')")
    page.keyboard.press("a")
    page.wait_for_selector(f'.tile[data-id="{ids[HOSTILE_NAME]}"][data-status=accepted]')

    page.click("#filter-status")  # picked with the pointer: the focus goes back to the images
    page.select_option("#filter-status", "pending")
    page.wait_for_function("document.activeElement.classList.contains('tile')")
    page.keyboard.press("r")
    page.wait_for_selector(f'.tile[data-id="{ids[BLURRED]}"][data-status=rejected]')
    assert page.input_value("#filter-status") == "pending"


def test_tiles_are_reached_with_tab_and_the_detail_stays_in_view(page, live_review, database, ids):
    page.set_viewport_size({"width": 1280, "height": 700})
    _open_review(page, live_review, database)
    page.focus("#filter-reviewer")
    page.keyboard.press("Tab")  # the last filter, then the current tile
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[HOSTILE_NAME])
    page.keyboard.press("j")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[BLURRED])  # the focus moves along

    page.add_style_tag(content="#grid { min-height: 4000px; }")  # a long queue
    page.evaluate("window.scrollTo(0, 3000)")
    top, bottom = page.eval_on_selector(
        "#detail-image", "e => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom]"
    )
    assert top >= 0 and bottom <= 700


def test_success_is_not_shown_in_red_and_the_page_passes_axe(page, live_review, database, ids):
    from axe_playwright_python.sync_playwright import Axe

    _open_review(page, live_review, database)
    page.keyboard.press("a")
    page.wait_for_selector(f'#detail[data-id="{ids[BLURRED]}"]')
    page.keyboard.press("r")
    page.wait_for_selector(f'#detail[data-id="{ids[DARK]}"]')
    page.keyboard.press("u")
    page.wait_for_selector("#message:has-text('Undone')")
    assert page.eval_on_selector("#message", "e => getComputedStyle(e).color") == "rgb(27, 110, 46)"
    page.keyboard.press("r")  # the undone image rejected again: tiles on green and on red, for the contrast check
    page.wait_for_selector(".tile[data-status=rejected]")
    violations = Axe().run(page).response["violations"]
    assert [(v["id"], v["nodes"][0]["target"]) for v in violations if v["impact"] in ("serious", "critical")] == []


# --- More like this ------------------------------------------------------------------------------------------------


@pytest.fixture
def features(database, folder, ids):
    """The features the per-image pass would store: perceptual hashes of every image's pixels, and embeddings in
    which the hostile name's picture (a smaller copy) and CLEAN are one person; BLURRED has no face embedding."""
    from curation.images import perceptual_hash

    rng = np.random.default_rng(0)
    strangers = {name: rng.normal(0, 0.04, 128).astype(np.float32) for name in ids}
    strangers[CLEAN] = strangers[HOSTILE_NAME] + 0.002
    with database.session() as session:
        for name, image_id in ids.items():
            image = session.get(DatasetImage, image_id)
            image.perceptual_hash = perceptual_hash(np.asarray(Image.open(folder / name).convert("RGB")))
            image.embedding = None if name == BLURRED else strangers[name].tobytes()
    return ids


def test_more_like_this_lists_the_nearest_faces_by_identity_and_by_appearance_with_their_labels(reviewer, features):
    _, client = reviewer
    found = client.get(f"/review/api/images/{features[HOSTILE_NAME]}/similar").get_json()
    nearest = found["identity"][0]
    assert nearest["id"] == features[CLEAN] and nearest["distance"] < 0.05
    assert (nearest["effective_age"], nearest["effective_gender"], nearest["status"]) == (34, 1, "pending")
    assert features[BLURRED] not in [n["id"] for n in found["identity"]]  # no embedding, never a neighbour
    assert len(found["identity"]) == 4 and len(found["appearance"]) == 5
    assert features[HOSTILE_NAME] not in [n["id"] for n in found["identity"] + found["appearance"]]
    bits = [n["bits"] for n in found["appearance"]]
    assert bits == sorted(bits)
    assert client.get(f"/review/api/images/{features[BLURRED]}/similar").get_json()["identity"] == []


def test_more_like_this_of_an_unknown_image_is_404(reviewer, features):
    _, client = reviewer
    response = client.get("/review/api/images/999999/similar")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_pressing_m_shows_the_faces_like_this_one_with_their_labels_and_they_follow_the_reviewer(
    page, live_review, database, features
):
    _open_review(page, live_review, database)  # on the hostile name's image, the first in the queue
    page.keyboard.press("m")
    first = page.locator("#similar-identity .neighbour").first
    first.wait_for()
    assert first.get_attribute("data-id") == str(features[CLEAN])
    assert first.text_content() == "34 · female · pending"
    assert page.locator("#similar-appearance .neighbour").count() == 5
    page.keyboard.press("j")  # BLURRED has no face embedding: said so, and its look-alikes are still shown
    page.wait_for_selector("#similar-identity li:not(.neighbour)")
    assert "no face to compare" in page.text_content("#similar-identity")
    assert page.locator("#similar-appearance .neighbour").count() == 5
    page.keyboard.press("m")
    page.wait_for_selector("#similar", state="hidden")


def test_faces_picked_among_more_like_this_are_decided_on_with_the_selection(page, live_review, database, features):
    _open_review(page, live_review, database)
    page.keyboard.press("x")  # the hostile name's image, and CLEAN shown as its same person: one run of copies
    page.keyboard.press("m")
    page.click(f'#similar-identity .neighbour[data-id="{features[CLEAN]}"]')
    page.wait_for_selector(f'#similar-identity .neighbour.selected[data-id="{features[CLEAN]}"]')
    page.keyboard.press("Shift+R")
    page.wait_for_selector(f'.tile[data-id="{features[CLEAN]}"][data-status=rejected]')
    assert _stored(database, features[CLEAN]).status.value == "rejected"
    assert _stored(database, features[HOSTILE_NAME]).status.value == "rejected"
    assert "Rejected 2 image(s)" in page.text_content("#message")
    page.wait_for_function(  # shown again with the labels the decision left
        "document.querySelector('#similar-identity .neighbour').textContent === '34 · female · rejected'"
    )
    assert page.locator("#similar .neighbour.selected").count() == 0


def test_more_like_this_sees_an_image_analysed_after_it_was_first_asked(reviewer, features, database):
    from service.models import utcnow

    _, client = reviewer
    before = client.get(f"/review/api/images/{features[GRAY]}/similar").get_json()["identity"]
    assert all(n["distance"] > 0 for n in before)
    with database.session() as session:
        image = session.get(DatasetImage, features[DARK])
        image.embedding = np.frombuffer(session.get(DatasetImage, features[GRAY]).embedding, np.float32).tobytes()
        image.analysed_at = utcnow()
    after = client.get(f"/review/api/images/{features[GRAY]}/similar").get_json()["identity"]
    assert after[0]["id"] == features[DARK] and after[0]["distance"] == 0


def test_a_bulk_correction_gives_every_selected_image_the_age_and_undoes_as_one(reviewer, database, ids):
    _, client = reviewer
    chosen = [{"id": ids[CLEAN], "version": 0}, {"id": ids[MIRRORED], "version": 0}]
    response = client.post(
        "/review/api/decisions", json={"action": "correct", "age": 40, "images": chosen}, headers=HEADERS
    )
    assert response.status_code == 200, response.get_json()
    assert [i["effective_age"] for i in response.get_json()["images"]] == [40, 40]
    assert (
        client.post("/review/api/decisions", json={"action": "correct", "images": chosen}, headers=HEADERS).status_code
        == 400
    )
    client.post("/review/api/undo", headers=HEADERS)
    assert (
        _stored(database, ids[CLEAN]).corrected_age is None and _stored(database, ids[MIRRORED]).corrected_age is None
    )


def test_shift_e_fixes_the_age_of_faces_picked_among_more_like_this(page, live_review, database, features):
    _open_review(page, live_review, database)
    page.keyboard.press("x")
    page.keyboard.press("m")
    page.click(f'#similar-identity .neighbour[data-id="{features[CLEAN]}"]')
    page.wait_for_selector(f'#similar-identity .neighbour.selected[data-id="{features[CLEAN]}"]')
    page.keyboard.press("Shift+E")
    page.keyboard.press("Control+a")
    page.keyboard.type("41")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#similar-identity .neighbour').textContent === '41* · female · pending'"
    )
    assert _stored(database, features[CLEAN]).corrected_age == 41
    assert _stored(database, features[HOSTILE_NAME]).corrected_age == 41
    assert "Corrected 2 image(s)" in page.text_content("#message")
