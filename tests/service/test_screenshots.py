"""The README's screenshots, taken by the suite's browser from the running service (the real worker and model), so
that they show the pages as they are. Each test also checks what its picture shows. With FACEAGE_SCREENSHOTS=1 the
pictures are written to docs/screenshots/ (after changing a page:
`FACEAGE_SCREENSHOTS=1 uv run pytest tests/service/test_screenshots.py`); otherwise to the test's own folder."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from curation.flags import flag
from service import dataset
from service.auth import create_reviewer
from service.models import DatasetImage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
GROUP_FACES = [64, 56, 60, 20]  # face sizes (px): three aged, and one too small to age


@pytest.fixture
def save(tmp_path):
    """`save(page, name)`: a full-page JPEG of the page, where the README links it or in the test's folder."""
    folder = DOCS if os.environ.get("FACEAGE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> Path:
        path = folder / name
        page.screenshot(path=str(path), full_page=True, type="jpeg", quality=82, animations="disabled")
        return path

    return shoot


def _context(browser, viewport):
    return browser.new_context(viewport=viewport, reduced_motion="reduce")  # the film waits for Play


@pytest.fixture(scope="module")
def group_job(browser, live_server, group_photo) -> str:
    """The address of a finished job of a four-face group photo, aged by the worker at 5, 20, 40, 60 and 80."""
    pixels, _centres = group_photo(GROUP_FACES)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92)
    context = _context(browser, DESKTOP)
    page = context.new_page()
    reply = page.request.post(
        live_server + "/api/v1/jobs",
        multipart={"photo": {"name": "group.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}},
    ).json()
    context.close()
    return live_server + reply["urls"]["page"]


def _open_result(page, address: str) -> None:
    page.goto(address)
    page.wait_for_function("document.getElementById('zip').href.startsWith('blob:')", timeout=180_000)
    page.focus("#slider")
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # from the photo as sent to age 60: the photo and every face's still
    page.hover(".face-badge[data-face='2']")


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "result-desktop.jpg"), (PHONE, "result-phone.jpg")])
def test_screenshot_of_the_result_page(browser, group_job, save, viewport, name):
    context = _context(browser, viewport)
    page = context.new_page()
    _open_result(page, group_job)
    assert page.text_content("#slider-age") == "age 60"
    assert page.locator(".face").count() == 3
    assert page.text_content("#left-out").startswith("Face 4 was too small to age")
    save(page, name)
    context.close()


def test_screenshot_of_the_explore_page(browser, live_server, save):
    context = _context(browser, DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server}/explore")  # it starts from the best of a fresh sample, as a visitor's does
    page.wait_for_selector("#samples li:nth-child(8) img", timeout=120_000)
    page.wait_for_function("(document.getElementById('face').dataset.shown || '').length > 0", timeout=60_000)
    page.wait_for_selector(".direction input", timeout=60_000)  # the named directions' sliders
    page.wait_for_load_state("networkidle")
    save(page, "explore.jpg")
    context.close()


def test_screenshot_of_the_review_page(browser, site, astronaut, tmp_path, save):
    url, _settings, database = site
    chip = np.ascontiguousarray(astronaut[25:225, 122:322])
    folder = tmp_path / "dataset"
    folder.mkdir()
    looks = {"34_1_0_20170101000000001.jpg.chip.jpg": chip, "35_1_0_20170101000000002.jpg.chip.jpg": chip[:, ::-1]}
    looks["62_1_2_20170101000000003.jpg.chip.jpg"] = (chip * 0.45).astype(np.uint8)
    looks["8_0_1_20170101000000004.jpg.chip.jpg"] = chip[::2, ::2].repeat(2, 0).repeat(2, 1)
    for name, pixels in looks.items():
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / name, quality=92)
    dataset.import_files(database, dataset.dataset_files(folder))
    with database.session() as session:
        for image in session.scalars(select(DatasetImage)):
            if image.source_path.endswith("3.jpg.chip.jpg"):
                dataset.replace_flags(session, image, [flag("underexposed", 2.0, brightness=40.0)], [])
            if image.source_path.endswith("4.jpg.chip.jpg"):
                dataset.replace_flags(session, image, [flag("age_label_outlier", 1.5, estimated_age=31.0)], [])
    password = create_reviewer(database, "ada")
    context = _context(browser, DESKTOP)
    page = context.new_page()
    page.goto(url + "/review/login")
    page.fill("#name", "ada")
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden])")
    assert page.locator(".tile").count() == 4
    save(page, "review.jpg")
    context.close()
