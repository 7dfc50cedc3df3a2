"""The explore page in a real browser (Debian's chromium, driven by Playwright, launched as test_pages.py does):
a face by URL, an age slider that re-renders, the same face after a reload, best of N, a photo brought in."""

import threading

import pytest

from aging_model.explore.latent import sample_codes
from service.app import create_app
from service.config import Settings

CODE = sample_codes(1, seed=31)[0]


@pytest.fixture(scope="module")
def explore_server(tmp_path_factory):
    """The web app on a real port; the explorer needs no worker."""
    from werkzeug.serving import make_server

    settings = Settings(data_dir=str(tmp_path_factory.mktemp("explore-page")), explore_rate_limit="1000/minute")
    server = make_server("127.0.0.1", 0, create_app(settings, enqueue=lambda job_id: None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _shown_face(page, containing: str) -> str:
    """The face image's URL once an image whose URL contains `containing` has loaded."""
    page.wait_for_function(
        "text => (document.getElementById('face').dataset.shown || '').includes(text)", arg=containing, timeout=60_000
    )
    return page.get_attribute("#face", "data-shown")


def test_the_age_slider_re_renders_and_a_reload_shows_the_same_face(page, explore_server, tmp_path):
    page.goto(f"{explore_server}/explore?code={CODE}&age=30&gender=female")
    at_30 = _shown_face(page, "age=30")
    assert page.input_value("#code") == CODE
    assert page.eval_on_selector("#face", "img => img.naturalWidth") == 256
    page.wait_for_selector(".direction input", timeout=60_000)
    assert page.locator(".direction").count() == 8

    page.fill("#age", "70")
    page.dispatch_event("#age", "input")
    at_70 = _shown_face(page, "age=70")
    assert at_70 != at_30 and page.text_content("#age-label") == "70"
    assert "age=70" in page.url and f"code={CODE}" in page.url
    page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)

    shown = page.evaluate("url => fetch(url).then(r => r.arrayBuffer()).then(b => [...new Uint8Array(b)])", at_70)
    page.goto(page.url)
    assert _shown_face(page, "age=70") == at_70
    again = page.evaluate("url => fetch(url).then(r => r.arrayBuffer()).then(b => [...new Uint8Array(b)])", at_70)
    assert again == shown and page.input_value("#age") == "70"


def test_best_of_n_shows_ranked_faces_and_a_click_explores_one(page, explore_server):
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=male")
    _shown_face(page, CODE)
    page.fill("#n", "4")
    page.click("#best")
    page.wait_for_selector("#samples li:nth-child(4) img", timeout=60_000)
    scores = [float(text.split()[-1]) for text in page.locator("#samples small").all_text_contents()]
    assert scores == sorted(scores, reverse=True)
    chosen = page.get_attribute("#samples li:first-child button", "title")
    page.click("#samples li:first-child button")
    _shown_face(page, chosen)
    assert f"code={chosen}" in page.url and "gender=male" in page.url


def test_a_photo_is_brought_in_as_a_code(page, explore_server, astronaut_jpeg, tmp_path):
    photo = tmp_path / "me.jpg"
    photo.write_bytes(astronaut_jpeg)
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=male")
    _shown_face(page, CODE)
    page.set_input_files("#photo", str(photo))
    page.wait_for_function(f"document.getElementById('code').value !== '{CODE}'", timeout=60_000)
    code = page.input_value("#code")
    _shown_face(page, code)
    assert "gender=female" in page.url and page.input_value("#gender") == "female"


def test_without_a_code_the_page_starts_from_the_best_of_a_fresh_sample(page, explore_server):
    page.goto(f"{explore_server}/explore")
    page.wait_for_function("document.getElementById('code').value.length === 50", timeout=60_000)
    _shown_face(page, page.input_value("#code"))
    assert page.locator("#samples li").count() == 8
