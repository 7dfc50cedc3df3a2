"""What the review tests share: a small dataset folder with known flags, and the calls a reviewer makes."""

import io
import re

import numpy as np
from PIL import Image
from sqlalchemy import select

from curation.flags import flag
from service.auth import create_reviewer
from service.models import DatasetImage, ReviewDecision

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


def _open_review(page, live_review, database) -> None:
    password = create_reviewer(database, "ada")
    page.goto(live_review + "/review/login")
    page.fill("#name", "ada")
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden])")
