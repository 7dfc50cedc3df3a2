"""The explore page in a real browser (Debian's chromium, driven by Playwright, launched as test_pages.py does):
a face by URL, an age slider that re-renders, the same face after a reload, best of N, a photo brought in; a face
chosen further down brought into view and said in words, scores a person can read, every slider and input named,
the code copied. What a person sees is checked at phone and desktop size."""

import re
import threading

import pytest

from aging_model.explore.latent import sample_codes
from service.app import create_app
from service.config import Settings

CODE = sample_codes(1, seed=31)[0]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}  # conftest's sized_page's sizes


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
    scores = [float(b.get_attribute("data-score")) for b in page.locator("#samples button").all()]
    assert scores == sorted(scores, reverse=True)
    chosen = page.get_attribute("#samples li:first-child button", "data-code")
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


def _in_view(page, selector: str) -> bool:
    """Whether the whole of the element is inside the window."""
    return page.eval_on_selector(
        selector, "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )


def _wait_in_view(page, selector: str) -> None:
    page.wait_for_function(
        "s => { const r = document.querySelector(s).getBoundingClientRect(); "
        "return r.top >= 0 && r.bottom <= innerHeight; }",
        arg=selector,
        timeout=10_000,
    )


def _draw(page, count: int) -> None:
    page.fill("#n", str(count))
    page.click("#best")
    page.wait_for_selector(f"#samples li:nth-child({count}) img", timeout=60_000)


def test_a_face_chosen_from_best_of_n_is_brought_into_view_and_said_in_words(sized_page, explore_server):
    page = sized_page
    page.goto(f"{explore_server}/explore?code={CODE}&age=80&gender=female")
    _shown_face(page, CODE)
    _draw(page, 4)
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")  # down at the drawn faces
    assert not _in_view(page, "#face")
    # A live region is read out when it changes only if it is already there: not hidden while it is empty.
    assert page.eval_on_selector("#face-status", "e => getComputedStyle(e).display") != "none"
    third = page.locator("#samples li:nth-child(3) button")
    third.click()
    _shown_face(page, third.get_attribute("data-code"))
    _wait_in_view(page, "#face")
    status = page.get_by_role("status").filter(has_text="Showing face #3 of the 4 drawn, at age 80, female.")
    status.wait_for()
    assert status.is_visible() and _in_view(page, "#face-status")
    assert third.get_attribute("aria-current") == "true" and page.locator("#samples [aria-current]").count() == 1


def test_a_face_brought_in_from_a_photo_is_brought_into_view_and_said_in_words(
    sized_page, explore_server, astronaut_jpeg, tmp_path
):
    photo = tmp_path / "me.jpg"
    photo.write_bytes(astronaut_jpeg)
    page = sized_page
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=male")
    _shown_face(page, CODE)
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")  # down at "Your own face"
    assert not _in_view(page, "#face")
    page.set_input_files("#photo", str(photo))
    page.wait_for_function(f"document.getElementById('code').value !== '{CODE}'", timeout=60_000)
    _shown_face(page, page.input_value("#code"))
    _wait_in_view(page, "#face")
    status = page.get_by_role("status").filter(has_text="Showing the face from your photo, at the age (")
    status.wait_for()
    assert status.is_visible() and "gender (female)" in status.text_content()
    shown = page.get_by_role("status").filter(has_text="Your photo's face is shown at the top")
    shown.wait_for()
    assert shown.count() == 1


def test_best_of_n_shows_a_rank_and_readable_reasons_not_a_score_of_0_00(sized_page, explore_server):
    """At 80 the estimator reads most faces younger than asked, and the score (a product of three shares) is often
    under 0.01: each face shows its rank, the age read, how surely the gender asked for is read, and how face-like
    it is, in whole years and percentages."""
    page = sized_page
    page.goto(f"{explore_server}/explore?code={CODE}&age=80&gender=male")
    _shown_face(page, CODE)
    _draw(page, 4)
    captions = page.locator("#samples small").all_text_contents()
    pattern = re.compile(r"#(\d) of 4 looks (\d+), (\d+)\s%\smale, face-like (\d+)\s%")
    matches = [pattern.fullmatch(caption) for caption in captions]
    assert all(matches), captions
    assert [int(m.group(1)) for m in matches] == [1, 2, 3, 4]
    assert all(0 <= int(m.group(n)) <= 100 for m in matches for n in (3, 4))
    assert not any("0.00" in caption for caption in captions)
    first = page.get_by_role("button", name=re.compile(r"^#1 of 4 looks \d+"))
    assert first.count() == 1 and first.get_attribute("data-code") in first.get_attribute("title")
    said = page.get_by_role("status").filter(has_text="4 faces drawn at age 80, male, best first.")
    said.wait_for()  # said once the faces are drawn, a moment after the last image is in place
    assert said.count() == 1


def test_every_direction_slider_is_named_for_what_it_changes(sized_page, explore_server):
    page = sized_page
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=female")
    page.wait_for_selector(".direction input", timeout=60_000)
    sliders = page.locator(".direction input[type=range]")
    assert sliders.count() == 8
    names = [page.text_content(f"label[for='{slider.get_attribute('id')}']") for slider in sliders.all()]
    assert not any(re.fullmatch(r"direction \d+", name) for name in names), names
    for slider, name in zip(sliders.all(), names):
        assert page.get_by_role("slider", name=name, exact=True).count() == 1
        assert page.text_content(f"#{slider.get_attribute('aria-describedby')}")  # why it is called that
        assert slider.get_attribute("aria-valuetext")
    assert "unnamed direction 3 (weakly like head turn)" in names
    ends = page.locator(".direction:nth-child(3) .ends span").all_text_contents()
    assert ends == ["− nose to image left, weakly", "nose to image right, weakly +"]


def test_the_age_slider_and_every_input_have_a_name(sized_page, explore_server):
    page = sized_page
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=female")
    page.wait_for_selector(".direction input", timeout=60_000)
    age = page.get_by_role("slider", name="Age", exact=True)
    assert age.get_attribute("id") == "age" and age.get_attribute("aria-valuetext") == "40 years"
    assert page.get_by_label("Your photo").get_attribute("type") == "file"
    assert page.get_by_label("How many").get_attribute("type") == "number"
    assert page.get_by_label("Gender").evaluate("e => e.tagName") == "SELECT"
    assert page.get_by_label("Code").input_value() == CODE
    unnamed = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea, button')].filter(e => {
             const labelled = e.labels && e.labels.length, aria = e.getAttribute('aria-label');
             return !(labelled || aria || (e.tagName === 'BUTTON' && e.textContent.trim()));
           }).map(e => e.outerHTML)"""
    )
    assert unnamed == []


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_copy_code_and_copy_link_copy_and_say_so(browser, explore_server, viewport):
    context = browser.new_context(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=female")
    _shown_face(page, CODE)
    page.get_by_role("button", name="Copy code").click()
    page.get_by_role("status").filter(has_text="Code copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    page.get_by_role("button", name="Copy link").click()
    page.get_by_role("status").filter(has_text="Link copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == page.url and f"code={CODE}" in page.url
    context.close()


def test_the_explore_page_in_use_has_no_serious_accessibility_violation(sized_page, explore_server, serious_violations):
    page = sized_page
    page.goto(f"{explore_server}/explore?age=80&gender=female")  # starts from a fresh best of N
    page.wait_for_selector("#samples li:nth-child(8) img", timeout=60_000)
    page.wait_for_selector(".direction input", timeout=60_000)
    page.click("#samples li:nth-child(2) button")
    page.get_by_role("status").filter(has_text="Showing face #2").wait_for()
    assert serious_violations(page) == []


def test_steering_keeps_the_face_in_sight_or_a_small_copy_of_it_that_leads_back(sized_page, explore_server):
    """On a desktop the face stays beside the sliders as they scroll; on a phone, where it is above them, a small
    copy of it shows in a corner while it is out of sight."""
    page = sized_page
    phone = page.viewport_size["width"] < 640
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=female")
    _shown_face(page, CODE)
    page.wait_for_selector(".direction input", timeout=60_000)
    assert page.is_hidden("#mini-face")
    last = page.locator(".direction:last-child input")
    page.evaluate("document.querySelector('.direction:last-child').scrollIntoView({block: 'end'})")
    assert _in_view(page, "#face") != phone
    last.fill("2")
    last.dispatch_event("change")
    page.wait_for_function(f"document.getElementById('code').value !== '{CODE}'", timeout=60_000)
    shown = _shown_face(page, page.input_value("#code"))
    if not phone:
        assert _in_view(page, "#face") and page.is_hidden("#mini-face")
        return
    page.wait_for_function(
        "url => { const m = document.getElementById('mini-face'); "
        "return !m.hidden && m.querySelector('img').src === url; }",
        arg=shown,
        timeout=10_000,
    )
    assert _in_view(page, "#mini-face")
    page.get_by_role("button", name="Back to the face").click()
    _wait_in_view(page, "#face")
    page.wait_for_selector("#mini-face", state="hidden")


def test_copy_works_where_the_clipboard_api_is_missing(browser, explore_server):
    """Over plain http (not localhost) a browser has no navigator.clipboard: the code is copied the older way."""
    context = browser.new_context(viewport=PHONE, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})")
    page.goto(f"{explore_server}/explore?code={CODE}&age=40&gender=female")
    _shown_face(page, CODE)
    assert page.evaluate("navigator.clipboard") is None
    page.get_by_role("button", name="Copy code").click()
    page.get_by_role("status").filter(has_text="Code copied.").wait_for()
    reader = context.new_page()  # without the init script: it can read the clipboard back
    reader.goto(f"{explore_server}/explore?code={CODE}")
    assert reader.evaluate("navigator.clipboard.readText()") == CODE
    context.close()
