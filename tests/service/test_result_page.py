"""The result page (a finished job) in a real browser at phone and desktop size: one age for the whole page, every
face numbered on the photo and tied to its block, the faces left out said in a line each, and nothing an
accessibility check calls serious. The jobs are finished here, with results made without the model (tinted copies
of the photo), so that the page is all that is tested and each test takes seconds."""

import functools
import io
import time

import numpy as np
import pytest
from PIL import Image

from aging_model.media import animation
from aging_model.outputs import OutputFile
from service import films, jobs

SIX_FACES = [40, 44, 38, 46, 42, 40]  # face sizes (px) in the group photo, all aged
TOO_SMALL = 19  # px: a seventh face, too small to age


def _encoded(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _aged(pixels: np.ndarray, age: float) -> np.ndarray:
    """A stand-in for the model: the older, the darker and the more sepia."""
    tint = np.array([1.0, 0.95, 0.85]) ** (age / 25)
    return np.clip(pixels * tint * (1 - age / 250), 0, 255).astype(np.uint8)


@functools.cache
def _film_of_bytes(pixels: bytes, shape: tuple) -> bytes:
    still = np.frombuffer(pixels, np.uint8).reshape(shape)
    frames = [animation.captioned(_aged(still, a), animation.age_caption(a)) for a in animation.lifespan_ages()]
    return animation.mp4_bytes(frames)


def _film(pixels: np.ndarray) -> bytes:
    """A stand-in for a lifespan film: 41 frames from 0 to 100, each with its age written on it (as the worker's)."""
    return _film_of_bytes(np.ascontiguousarray(pixels).tobytes(), pixels.shape)


def _finished_job(
    page, site, pixels: np.ndarray, ages: list[float], boxes: list, left_out=(), film=False, animate=False
) -> str:
    """A job of `pixels`, accepted through the API and finished here: a face at each of `boxes` aged to `ages`, and
    the faces at `left_out` ((box, size px)) too small to age; with `film`, its film is in its results already; with
    `animate`, it asked for the film, which is still to come. Returns its page's address (token included)."""
    url, _settings, database = site
    photo = {"name": "us.jpg", "mimeType": "image/jpeg", "buffer": _encoded(pixels, "JPEG")}
    form = {"photo": photo, **({"animate": "true"} if animate else {})}
    reply = page.request.post(url + "/api/v1/jobs", multipart=form).json()
    files, faces = [], []
    for number, box in enumerate(boxes, start=1):
        x0, y0, x1, y1 = (round(v) for v in box)
        crop = np.asarray(Image.fromarray(pixels[y0:y1, x0:x1]).resize((128, 128)))
        folder = f"face-{number}"
        files.append(OutputFile(f"{folder}/aligned.png", "aligned", number, None, "image/png", _encoded(crop, "PNG")))
        per_age = []
        for age in ages:
            name = f"{folder}/age-{age:g}.png"
            files.append(OutputFile(name, "aged", number, age, "image/png", _encoded(_aged(crop, age), "PNG")))
            per_age.append({"age": age, "file": name})
        strip = np.concatenate([crop, *(_aged(crop, a) for a in ages)], axis=1)
        files.append(OutputFile(f"{folder}/strip.jpg", "strip", number, None, "image/jpeg", _encoded(strip, "JPEG")))
        quality = {"face_size_px": float(x1 - x0), "warnings": [], "reasons": []}
        files_entry = {"aligned": f"{folder}/aligned.png", "ages": per_age, "strip": f"{folder}/strip.jpg"}
        faces.append({"face": number, "box": list(box), "quality": quality, "usable": True, "aged": True})
        faces[-1]["files"] = files_entry
        faces[-1]["estimated_age"] = 30.0 + number
    for box, size in left_out:
        message = f"The face is {size} px across in the photo; faces of at least 28 px are aged."
        faces.append(
            {
                "face": len(faces) + 1,
                "box": list(box),
                "quality": {"face_size_px": float(size), "warnings": [], "reasons": ["face_too_small"]},
                "usable": False,
                "aged": False,
                "left_out": [{"code": "face_too_small", "message": message}],
            }
        )
    composites = []
    for age in ages:
        name = f"photo-age-{age:g}.jpg"
        files.append(OutputFile(name, "composite", None, age, "image/jpeg", _encoded(_aged(pixels, age), "JPEG")))
        composites.append({"age": age, "file": name})
    height, width = pixels.shape[:2]
    document = {"original_size": [width, height], "ages": ages, "faces": faces, "composites": composites}
    if film:
        document["lifespan"], film_files = _film_files(pixels, faces[: len(boxes)])
        files += film_files
    jobs.store_results(database, reply["id"], document, files)
    return url + reply["urls"]["page"]


def _film_files(pixels: np.ndarray, faces: list[dict]) -> tuple[dict, list[OutputFile]]:
    """(results.lifespan, its files) of a photo and its aged faces, as the worker makes them."""
    lifespan_faces = []
    files = [OutputFile("lifespan-photo.mp4", "lifespan-photo", None, None, "video/mp4", _film(pixels))]
    for face in faces:
        x0, y0, x1, y1 = (round(v) for v in face["box"])
        name = f"face-{face['face']}/lifespan.mp4"
        files.append(OutputFile(name, "lifespan", face["face"], None, "video/mp4", _film(pixels[y0:y1, x0:x1])))
        lifespan_faces.append({"face": face["face"], "mp4": name, "gif": name})
    document = {
        "ages": animation.lifespan_ages(),
        "frames_per_second": animation.FRAMES_PER_SECOND,
        "photo": "lifespan-photo.mp4",
        "faces": lifespan_faces,
    }
    return document, files


def _boxes(centres, sizes) -> list[list[float]]:
    return [[x - s / 2, y - s * 0.6, x + s / 2, y + s * 0.6] for (x, y), s in zip(centres, sizes)]


@pytest.fixture
def one_face(astronaut):
    """The astronaut (512 x 512) and her face's box."""
    return astronaut, [[180.0, 80.0, 300.0, 230.0]]


@pytest.fixture
def seven_faces(group_photo):
    """A group photo with six faces to age and a seventh too small to age: pixels, aged boxes, (box, size)."""
    pixels, centres = group_photo([*SIX_FACES, TOO_SMALL])
    boxes = _boxes(centres, [*SIX_FACES, TOO_SMALL])
    return pixels, boxes[:6], [(boxes[6], TOO_SMALL)]


def _open(page, address: str) -> None:
    page.goto(address)
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_function("document.getElementById('zip').href.startsWith('blob:')")  # the last thing it shows


def _age_everywhere(page) -> dict:
    """What each view of the page says its age is."""
    return page.evaluate(
        """() => ({
            label: document.getElementById('slider-age').textContent,
            valuetext: document.getElementById('slider').getAttribute('aria-valuetext'),
            stills: [...document.querySelectorAll('.face')].map(
                f => [...f.querySelectorAll('.face-stills li.current')].map(li => li.dataset.age)),
        })"""
    )


def test_the_stills_open_on_the_original_photo_and_one_slider_moves_every_face(sized_page, site, one_face):
    pixels, boxes = one_face
    _open(sized_page, _finished_job(sized_page, site, pixels, [20, 70], boxes))
    assert _age_everywhere(sized_page) == {"label": "original", "valuetext": "original", "stills": [["original"]]}
    assert sized_page.get_attribute("#composite", "alt") == "your photo as it was sent"
    original = sized_page.get_attribute("#composite", "src")
    sized_page.focus("#slider")  # the keyboard moves it
    sized_page.keyboard.press("ArrowRight")
    assert _age_everywhere(sized_page) == {"label": "age 20", "valuetext": "age 20", "stills": [["20"]]}
    assert sized_page.get_attribute("#composite", "src") != original
    sized_page.keyboard.press("End")
    assert _age_everywhere(sized_page) == {"label": "age 70", "valuetext": "age 70", "stills": [["70"]]}
    assert sized_page.get_attribute("#composite", "alt") == "your photo at age 70"
    sized_page.keyboard.press("Home")
    assert sized_page.get_attribute("#composite", "src") == original


def test_the_stills_are_shown_once_without_the_strip_that_repeats_them(sized_page, site, one_face):
    pixels, boxes = one_face
    _open(sized_page, _finished_job(sized_page, site, pixels, [20, 40, 70], boxes))
    assert sized_page.locator("#faces img").count() == 4  # the original and three ages, nothing twice
    assert sized_page.locator("#faces .strip").count() == 0
    assert sized_page.locator("#faces figcaption").all_text_contents() == ["orig.", "20", "40", "70"]


def test_with_the_film_the_caption_the_slider_and_every_film_show_one_age(sized_page, site, one_face, group_photo):
    pixels, centres = group_photo([44, 46])
    _open(sized_page, _finished_job(sized_page, site, pixels, [40], _boxes(centres, [44, 46]), film=True))
    videos = "[...document.querySelectorAll('#aging video:not([hidden])')]"
    sized_page.wait_for_function(f"{videos}.length === 3 && {videos}.every(v => v.readyState >= 2)", timeout=30_000)
    assert sized_page.evaluate(f"{videos}.every(v => !v.loop && !v.autoplay)")  # no film runs on its own
    assert sized_page.get_attribute("#slider", "step") == "2.5"  # the film's own steps: 41 frames from 0 to 100
    sized_page.focus("#slider")
    sized_page.keyboard.press("Home")  # the films stop where the slider is
    for _ in range(3):
        sized_page.keyboard.press("ArrowRight")
    assert _age_everywhere(sized_page) == {"label": "age 7.5", "valuetext": "age 7.5", "stills": [[], []]}
    state = sized_page.evaluate(f"{videos}.map(v => [v.paused, v.currentTime])")
    assert state == [[True, pytest.approx(0.35)]] * 3  # frame 3 of each film, at 10 frames a second

    sized_page.eval_on_selector("#lifespan", "v => { v.playbackRate = 0.25; }")  # not at its end before the pause
    sized_page.click("#play")  # the photo's film plays, and the faces' films step with it
    sized_page.wait_for_function("document.getElementById('slider').value >= 20")
    faces = "[...document.querySelectorAll('.face-film')]"
    assert sized_page.evaluate(f"{faces}.every(v => v.paused && v.currentTime > 0.35)")
    sized_page.click("#play")
    assert sized_page.text_content("#play") == "Play"
    frame = sized_page.evaluate(f"{videos}.map(v => [v.paused, Math.floor(v.currentTime * 10)])")
    assert len(set(map(tuple, frame))) == 1 and frame[0][0]  # all paused on one frame
    assert _age_everywhere(sized_page)["label"] == f"age {frame[0][1] * 2.5:g}"

    sized_page.fill("#slider", "40")
    sized_page.dispatch_event("#slider", "input")
    assert _age_everywhere(sized_page) == {"label": "age 40", "valuetext": "age 40", "stills": [["40"], ["40"]]}


def test_a_key_on_the_slider_stops_the_playing_films_even_where_the_value_stays(sized_page, site, one_face):
    pixels, boxes = one_face
    _open(sized_page, _finished_job(sized_page, site, pixels, [40], boxes, film=True))
    sized_page.wait_for_function("document.getElementById('lifespan').readyState >= 2")
    sized_page.eval_on_selector("#lifespan", "v => { v.playbackRate = 0.0625; v.currentTime = 0; }")
    # The page plays the film once through on its own; where it has already ended (a slower load), it is played
    # again as a person would, with the page's own button (a bare play() would leave the slider unfollowed).
    if sized_page.evaluate("document.getElementById('lifespan').paused"):
        sized_page.click("#play")
    sized_page.wait_for_function("!document.getElementById('lifespan').paused")
    sized_page.wait_for_function("document.getElementById('slider').value === '0'")  # the film brought it back
    sized_page.focus("#slider")
    sized_page.keyboard.press("Home")  # at the first frame already: no "input" event, yet the person took hold
    assert sized_page.evaluate("document.getElementById('lifespan').paused")
    assert sized_page.text_content("#play") == "Play"


def test_every_face_is_numbered_on_the_photo_and_marks_its_block(sized_page, site, seven_faces):
    pixels, boxes, left_out = seven_faces
    _open(sized_page, _finished_job(sized_page, site, pixels, [20, 50, 80], boxes, left_out))
    assert sized_page.locator(".face-badge").all_text_contents() == [str(n) for n in range(1, 8)]
    assert sized_page.locator(".face h3").all_text_contents()[:2] == ["Face 1 (looks 31)", "Face 2 (looks 32)"]
    photo = sized_page.locator("#composite").bounding_box()
    scale = photo["width"] / pixels.shape[1]
    for number, (x0, y0, x1, _y1) in enumerate(boxes, start=1):
        badge = sized_page.locator(f".face-badge[data-face='{number}']").bounding_box()
        centre = (badge["x"] + badge["width"] / 2 - photo["x"], badge["y"] + badge["height"] / 2 - photo["y"])
        assert centre[0] == pytest.approx((x0 + x1) / 2 * scale, abs=2)  # at the top of its face's box
        assert centre[1] == pytest.approx(y0 * scale, abs=2)

    sized_page.hover(".face-badge[data-face='3']")
    assert sized_page.evaluate("[...document.querySelectorAll('.marked')].map(e => e.dataset.face)") == ["3"] * 3
    sized_page.hover("#face-5 h3")
    assert "marked" in sized_page.get_attribute(".face-badge[data-face='5']", "class")
    assert sized_page.is_visible(".face-box[data-face='5']") and sized_page.is_hidden(".face-box[data-face='3']")
    sized_page.focus(".face-badge[data-face='2']")  # the keyboard too
    assert "marked" in sized_page.get_attribute("#face-2", "class")
    sized_page.keyboard.press("Enter")
    sized_page.wait_for_url("**#face-2")


def test_a_face_left_out_is_said_in_one_line(sized_page, site, seven_faces):
    pixels, boxes, left_out = seven_faces
    _open(sized_page, _finished_job(sized_page, site, pixels, [60], boxes, left_out))
    assert sized_page.locator("#left-out li").all_text_contents() == ["Face 7 was too small to age (19 px)."]
    assert sized_page.locator(".face").count() == 6
    assert "not-aged" in sized_page.get_attribute(".face-badge[data-face='7']", "class")


@pytest.mark.parametrize("film", [False, True], ids=["stills", "film"])
def test_six_faces_fit_in_two_screens_before_the_downloads(sized_page, site, seven_faces, film):
    pixels, boxes, left_out = seven_faces
    _open(sized_page, _finished_job(sized_page, site, pixels, [5, 20, 40, 60, 80], boxes, left_out, film=film))
    screens = sized_page.evaluate("document.getElementById('zip').getBoundingClientRect().bottom / innerHeight")
    assert screens <= 2.0
    assert sized_page.evaluate("document.scrollingElement.scrollWidth") <= sized_page.viewport_size["width"]


@pytest.mark.parametrize("film", [False, True], ids=["stills", "film"])
def test_a_finished_result_page_has_no_serious_accessibility_violation(
    sized_page, site, seven_faces, serious_violations, film
):
    pixels, boxes, left_out = seven_faces
    _open(sized_page, _finished_job(sized_page, site, pixels, [20, 60], boxes, left_out, film=film))
    assert serious_violations(sized_page) == []


def test_the_photo_as_sent_is_served_to_its_owner_only(page, site, one_face):
    pixels, boxes = one_face
    address = _finished_job(page, site, pixels, [40], boxes)
    url, token = site[0], address.split("#", 1)[1]
    job_id = address.split("/jobs/", 1)[1].split("#", 1)[0]
    job = page.request.get(f"{url}/api/v1/jobs/{job_id}", headers={"X-Job-Token": token}).json()
    assert job["results"]["original_size"] == [512, 512]
    photo = page.request.get(url + job["results"]["photo"], headers={"X-Job-Token": token})
    assert photo.ok and photo.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(photo.body())).size == (512, 512)
    assert page.request.get(url + job["results"]["photo"]).status == 401


# The film after the stills: the stills show as soon as the job is done, the film under them with its progress, and
# the film takes the photo's place once it is there; a film that fails is said plainly and the stills stay.


def _job_id(address: str) -> str:
    return address.split("/jobs/", 1)[1].split("#", 1)[0]


def test_the_stills_show_at_once_and_the_film_follows_with_its_progress(page, site, one_face, serious_violations):
    pixels, boxes = one_face
    _url, _settings, database = site
    address = _finished_job(page, site, pixels, [20, 70], boxes, animate=True)
    job_id = _job_id(address)
    _open(page, address)
    assert page.is_visible("#composite") and page.is_hidden("#lifespan") and page.is_hidden("#play")
    assert page.locator(".face-stills img").count() == 3 and page.locator(".face-film").count() == 0
    assert page.text_content("#status") == "Done: your photo at every age. The film of your whole life follows."
    assert page.is_visible("#film-coming") and page.text_content("#film-status").startswith("The film of your whole")
    assert serious_violations(page) == []
    zip_size = "async () => (await (await fetch(document.getElementById('zip').href)).blob()).size"
    stills_zip = page.evaluate(zip_size)

    films.start_film(database, job_id, "film-task")
    films.mark_film_progress(database, job_id, 0.4)
    page.wait_for_function("document.getElementById('film-progress').value === 0.4", timeout=10_000)
    assert page.text_content("#film-status") == "Making the film of your whole life… 40 %"
    assert page.is_visible("#composite")  # the stills stay while it is made

    lifespan, files = _film_files(pixels, [{"face": 1, "box": boxes[0]}])
    films.store_film(database, job_id, lifespan, files)
    page.wait_for_selector("#lifespan:not([hidden])", timeout=10_000)
    videos = "[...document.querySelectorAll('#aging video:not([hidden])')]"
    page.wait_for_function(f"{videos}.length === 2 && {videos}.every(v => v.readyState >= 2)", timeout=30_000)
    assert page.is_hidden("#composite") and page.is_hidden("#film-coming") and page.is_visible("#play")
    assert page.text_content("#status") == "Done."
    assert page.get_attribute("#slider", "step") == "2.5"  # the slider now moves through the film's frames
    page.fill("#slider", "37.5")
    page.dispatch_event("#slider", "input")
    assert page.text_content("#slider-age") == "age 37.5"
    assert page.evaluate(f"{videos}.map(v => v.currentTime)") == [pytest.approx(1.55)] * 2
    # The zip link is made again, with the film in it.
    deadline = time.monotonic() + 10
    while page.evaluate(zip_size) <= stills_zip and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.evaluate(zip_size) > stills_zip


def test_a_film_that_fails_is_said_plainly_and_the_stills_stay(page, site, one_face):
    pixels, boxes = one_face
    _url, _settings, database = site
    address = _finished_job(page, site, pixels, [20, 70], boxes, animate=True)
    job_id = _job_id(address)
    films.start_film(database, job_id, "film-task")
    films.mark_film_progress(database, job_id, 0.2)
    _open(page, address)
    assert page.text_content("#film-status") == "Making the film of your whole life… 20 %"

    films.mark_film_failed(database, job_id, "internal_error", "the film could not be made; the stills are kept")
    page.wait_for_function("document.getElementById('film-coming').classList.contains('failed')", timeout=10_000)
    assert page.text_content("#film-status") == (
        "Sorry, the film of your whole life could not be made (the film could not be made; the stills are kept). "
        "Your photo at every age is here and stays."
    )
    assert page.is_hidden("#film-progress") and page.text_content("#status") == "Done, without the film (see below)."
    assert page.is_visible("#composite") and page.is_hidden("#lifespan")
    page.focus("#slider")  # the stills work as ever
    page.keyboard.press("End")
    assert page.text_content("#slider-age") == "age 70"
