"""The pages in a real browser (Debian's chromium, driven by Playwright): upload a photo, watch it age."""

import numpy as np
import pytest
from PIL import Image


def _upload_and_wait(page, live_server, pixels, photo, ages: str, animate: bool = False) -> None:
    """Upload `pixels` as `photo` on the home page with these ages and wait for the result to show."""
    Image.fromarray(pixels).save(photo, quality=92)
    page.goto(live_server + "/")
    page.set_input_files("#photo", str(photo))
    page.fill("#ages", ages)
    page.set_checked("#animate", animate)
    page.click("#submit")
    page.wait_for_url("**/jobs/*#*")
    page.wait_for_selector("#result:not([hidden])", timeout=180_000)


def test_a_person_uploads_a_photo_and_sees_it_aged(page, live_server, astronaut, tmp_path):
    _upload_and_wait(page, live_server, astronaut, tmp_path / "me.jpg", "20,70")
    assert page.text_content("#status").startswith("Done")
    assert page.eval_on_selector("#composite", "img => img.naturalWidth") == 512
    assert page.locator(".face-stills img").count() == 3  # the face as sent, then at 20 and 70
    page.fill("#slider", "2")
    page.dispatch_event("#slider", "input")
    assert page.text_content("#slider-age") == "age 70"
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)


# What the result page shows, noted each time it changes: the stills (the photo), the film's progress, the film.
NOTE_WHAT_IS_SHOWN = """
window.shown = [];
const visible = id => { const e = document.getElementById(id); return !!e && !e.closest("[hidden]"); };
const note = () => {
  const now = {stills: visible("composite"), filmComing: visible("film-coming"), film: visible("lifespan"),
               filmStatus: visible("film-coming") ? document.getElementById("film-status").textContent : ""};
  const last = window.shown[window.shown.length - 1];
  if (!last || JSON.stringify(last) !== JSON.stringify(now)) window.shown.push(now);
};
document.addEventListener("DOMContentLoaded", () => {
  note();
  const all = {subtree: true, attributes: true, childList: true, characterData: true};
  new MutationObserver(note).observe(document.body, all);
});
"""


def _film_held_back(page, looks: int = 2) -> None:
    """The job's finished film answered as still being made for the page's first `looks` at the finished job, as a
    slower machine's film would be: on a fast one the film can be done before the page first sees the job done, and
    the page then (rightly) shows the film at once, so the order of stills and film would be left to a race."""
    held = {"looks": 0}

    def answer(route):
        response = route.fetch()
        job = response.json()
        film = job.get("film") or {}
        if job.get("status") == "done" and film.get("state") == "done" and held["looks"] < looks:
            held["looks"] += 1
            job["film"] = {"state": "running", "progress": 0.5, "error": None}
            job.get("results", {}).pop("lifespan", None)
        route.fulfill(response=response, json=job)

    page.route("**/api/v1/jobs/*", answer)


def test_with_the_film_the_stills_come_first_then_the_film_and_its_slider_moves_through_every_age(
    page, live_server, astronaut, tmp_path
):
    page.add_init_script(NOTE_WHAT_IS_SHOWN)
    _film_held_back(page)
    _upload_and_wait(page, live_server, astronaut, tmp_path / "me.jpg", "40", animate=True)
    page.wait_for_selector("#lifespan:not([hidden])", timeout=180_000)
    assert page.is_visible("#lifespan") and page.is_hidden("#composite") and page.is_hidden("#film-coming")
    shown = page.evaluate("window.shown")
    stills = next(i for i, s in enumerate(shown) if s["stills"])
    film = next(i for i, s in enumerate(shown) if s["film"])
    assert stills < film, shown  # the stills first, the film after them
    assert shown[stills]["filmComing"] and not shown[stills]["film"], shown  # with the film said to be coming
    said = [s["filmStatus"] for s in shown[stills:film] if s["filmStatus"]]
    assert said and all(t.startswith(("The film of your whole life is next", "Making the film")) for t in said), said
    assert page.get_attribute("#slider", "max") == "100" and page.get_attribute("#slider", "step") == "2.5"
    page.wait_for_function("document.getElementById('lifespan').readyState >= 1", timeout=30_000)
    page.fill("#slider", "37.5")  # between the stills: the film's frame of age 37.5
    page.dispatch_event("#slider", "input")
    assert page.text_content("#slider-age") == "age 37.5"
    seconds = page.eval_on_selector("#lifespan", "v => v.currentTime")
    assert seconds == pytest.approx(15.5 / 10, abs=0.01)  # the middle of frame 15 (of 0 to 100 by 2.5), 10 a second
    assert page.locator(".face-film").count() == 1
    page.screenshot(path=str(tmp_path / "film.png"), full_page=True)


def test_a_soft_photo_is_aged_and_the_page_says_why_it_may_look_soft(page, live_server, astronaut, tmp_path):
    import cv2

    _upload_and_wait(page, live_server, cv2.GaussianBlur(astronaut, (0, 0), 3), tmp_path / "soft.jpg", "60")
    assert "soft or out of focus" in page.text_content("#warnings")
    assert page.locator(".face-stills img").count() == 2


def test_a_photo_without_a_face_shows_the_reason(page, live_server, tmp_path):
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 100, np.uint8)).save(wall)
    page.goto(live_server + "/")
    page.set_input_files("#photo", str(wall))
    page.click("#submit")
    page.wait_for_selector("#reason:has-text('no face')", timeout=180_000)


def test_a_file_that_is_not_an_image_is_refused_on_the_upload_page(page, live_server, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("these are notes, not a photo")
    page.goto(live_server + "/")
    page.set_input_files("#photo", str(notes))
    page.click("#submit")
    page.wait_for_selector("#message:has-text('not an image')")
    assert "/jobs/" not in page.url


def test_two_people_are_morphed_on_the_morph_page(page, live_server, astronaut, tmp_path):
    from pathlib import Path

    Image.fromarray(astronaut).save(tmp_path / "a.jpg", quality=92)
    page.goto(live_server + "/morph")
    page.set_input_files("#photo-a", str(tmp_path / "a.jpg"))
    page.set_input_files("#photo-b", str(Path(__file__).resolve().parents[2] / "docs" / "obama.jpg"))
    page.fill("#age", "50")
    page.click("#submit")
    page.wait_for_url("**/jobs/*#*")
    page.wait_for_selector("#morph:not([hidden])", timeout=180_000)
    page.wait_for_function("document.getElementById('morph-strip').naturalWidth > 0", timeout=30_000)
    assert page.is_hidden("#aging")
