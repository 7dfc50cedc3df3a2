"""The outside probe's corpus of bad inputs, kept: every file that is not a usable photo, and every integer out of
any range, sent to every endpoint that takes a photo or a number, on an app of the test's own (no worker). Each
gets a 4xx JSON error with a `code` (a batch: a failed item with a reason), never a 5xx, and nothing is queued."""

import io
import re
import zipfile

import pytest
from image_files import png_header_only
from PIL import Image

from service.auth import create_api_key, create_reviewer

HUGE = "99999999999999999999999"


def _image(mode: str, size: tuple[int, int], form: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, form)
    return buffer.getvalue()


_JPEG = _image("RGB", (256, 256), "JPEG")
_PNG = _image("RGB", (256, 256), "PNG")

# name -> (file name, content)
CORPUS = {
    "not_an_image": ("notes.jpg", b"just some text, no pixels in it"),
    "empty": ("empty.jpg", b""),
    "truncated_jpeg": ("cut.jpg", _JPEG[: len(_JPEG) // 3]),
    "jpeg_header_only": ("header.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 100),
    "truncated_png": ("cut.png", _PNG[: len(_PNG) // 2]),
    "bomb_header": ("bomb.png", png_header_only(100_000, 100_000)),
    "1x1": ("dot.png", _image("RGB", (1, 1), "PNG")),
    "31x31": ("small.png", _image("RGB", (31, 31), "PNG")),
    "2000x20": ("thin.png", _image("RGB", (2000, 20), "PNG")),
    "16bit_tiny": ("deep.png", _image("I;16", (8, 8), "PNG")),
    "rgba_tiny": ("alpha.png", _image("RGBA", (8, 8), "PNG")),
    "palette_tiny": ("palette.png", _image("P", (8, 8), "PNG")),
    "cmyk_tiny": ("cmyk.jpg", _image("CMYK", (8, 8), "JPEG")),
    "html_as_jpg": ("page.jpg", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"),
    "heic_header_only": ("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
    "zip_as_jpg": ("archive.jpg", b"PK\x03\x04" + b"\0" * 60),
}


def _error_code(reply) -> str:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.get_data(as_text=True)[:300])
    error = reply.get_json()["error"]
    assert error["code"] and error["message"], error
    return error["code"]


@pytest.fixture
def key(isolated) -> dict:
    return {"Authorization": f"Bearer {create_api_key(isolated.database, 'prober')}"}


@pytest.mark.parametrize("name", CORPUS)
def test_a_bad_photo_gets_a_4xx_with_a_code_from_jobs_and_the_explorer(isolated, name):
    filename, content = CORPUS[name]
    for url in ("/api/v1/jobs", "/api/v1/explore/codes"):
        reply = isolated.client.post(url, data={"photo": (io.BytesIO(content), filename)})
        _error_code(reply)
    assert isolated.enqueued == []


@pytest.mark.parametrize("name", CORPUS)
def test_a_bad_photo_on_either_side_of_a_morph_gets_a_4xx(isolated, astronaut_jpeg, name):
    filename, content = CORPUS[name]
    for bad in ("photo_a", "photo_b"):
        good = "photo_b" if bad == "photo_a" else "photo_a"
        data = {bad: (io.BytesIO(content), filename), good: (io.BytesIO(astronaut_jpeg), "good.jpg")}
        _error_code(isolated.client.post("/api/v1/morphs", data=data))
    assert isolated.enqueued == []


def test_every_bad_photo_of_a_batch_is_a_failed_item_with_a_reason(isolated, key, astronaut_jpeg):
    photos = [(io.BytesIO(content), f"{name}-{filename}") for name, (filename, content) in CORPUS.items()]
    photos.append((io.BytesIO(astronaut_jpeg), "good.jpg"))
    reply = isolated.client.post("/api/v1/batches", data={"photos": photos}, headers=key)
    assert reply.status_code == 202, reply.get_data(as_text=True)[:300]
    items = {item["name"]: item for item in reply.get_json()["items"]}
    assert items.pop("good.jpg")["status"] == "queued"
    assert len(items) == len(CORPUS)
    for name, item in items.items():
        assert item["status"] == "failed" and item["error"]["code"] and item["error"]["message"], (name, item)
    assert len(isolated.enqueued) == 1


def test_a_zip_of_bad_members_gives_failed_items_and_a_broken_zip_a_4xx(isolated, key, astronaut_jpeg):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, (filename, content) in CORPUS.items():
            zipped.writestr(f"{name}-{filename}", content)
        zipped.writestr("good.jpg", astronaut_jpeg)
    reply = isolated.client.post(
        "/api/v1/batches", data={"archive": (io.BytesIO(archive.getvalue()), "photos.zip")}, headers=key
    )
    assert reply.status_code == 202, reply.get_data(as_text=True)[:300]
    items = reply.get_json()["items"]
    failed = [item for item in items if item["status"] == "failed"]
    assert all(item["error"]["code"] and item["error"]["message"] for item in failed)
    # What is not a photo at all is either left out of the batch or a failed item, never queued.
    assert [item["name"] for item in items if item["status"] == "queued"] == ["good.jpg"]

    for broken in (archive.getvalue()[: archive.tell() // 2], b"", b"not a zip", CORPUS["html_as_jpg"][1]):
        reply = isolated.client.post(
            "/api/v1/batches", data={"archive": (io.BytesIO(broken), "photos.zip")}, headers=key
        )
        _error_code(reply)
    assert len(isolated.enqueued) == 1  # the good photo of the first archive only


CODE = "0" * 50


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/explore/sample?n={HUGE}",
        f"/api/v1/explore/sample?seed={HUGE}",
        f"/api/v1/explore/sample?age={HUGE}",
        "/api/v1/explore/sample?age=nan",
        "/api/v1/explore/sample?n=1e400",
        f"/api/v1/explore/face.png?code={CODE}&age={HUGE}",
        f"/api/v1/explore/face.png?code={HUGE}",
        f"/api/v1/explore/directions?code={HUGE}",
        f"/api/v1/explore/steer?code={CODE}&direction={HUGE}&score=0",
        f"/api/v1/explore/steer?code={CODE}&direction=0&score={HUGE}",
        f"/api/v1/explore/steer?code={CODE}&direction=-{HUGE}&score=inf",
    ],
)
def test_huge_numbers_to_the_explorer_get_a_4xx(isolated, url):
    _error_code(isolated.client.get(url))


@pytest.mark.parametrize(
    "field, value", [("ages", HUGE), ("ages", f"40,{HUGE}"), ("ages", "1e400"), ("animate", HUGE), ("gender", HUGE)]
)
def test_huge_numbers_in_a_job_or_batch_form_get_a_4xx(isolated, key, astronaut_jpeg, field, value):
    job = {"photo": (io.BytesIO(astronaut_jpeg), "a.jpg"), field: value}
    _error_code(isolated.client.post("/api/v1/jobs", data=job))
    if field != "animate":  # a batch has no animation to ask for
        batch = {"photos": [(io.BytesIO(astronaut_jpeg), "a.jpg")], field: value}
        _error_code(isolated.client.post("/api/v1/batches", data=batch, headers=key))
    assert isolated.enqueued == []


@pytest.mark.parametrize("age", [HUGE, f"-{HUGE}", "1e400", "nan"])
def test_huge_numbers_in_a_morph_form_get_a_4xx(isolated, astronaut_jpeg, age):
    data = {"photo_a": (io.BytesIO(astronaut_jpeg), "a.jpg"), "photo_b": (io.BytesIO(astronaut_jpeg), "b.jpg")}
    _error_code(isolated.client.post("/api/v1/morphs", data={**data, "age": age}))
    assert isolated.enqueued == []


@pytest.fixture
def reviewer(isolated):
    password = create_reviewer(isolated.database, "prober")
    client = isolated.app.test_client()
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = client.post("/review/login", data={"name": "prober", "password": password, "csrf_token": token})
    assert signed_in.status_code == 302
    return client


@pytest.mark.parametrize(
    "url",
    [
        f"/review/api/images?offset={HUGE}",
        f"/review/api/images?limit={HUGE}",
        f"/review/api/images?race={HUGE}",
        f"/review/api/images?min_age={HUGE}",
        f"/review/api/images?max_age=-{HUGE}",
        f"/review/api/images?offset={'9' * 5000}",
        f"/review/api/images/{HUGE}",
        f"/review/api/images/{HUGE}/thumbnail.jpg",
    ],
)
def test_huge_numbers_to_the_review_api_get_a_4xx(reviewer, url):
    _error_code(reviewer.get(url))


@pytest.mark.parametrize(
    "url, body",
    [
        (f"/review/api/images/{2**70}/decision", {"action": "accept", "version": 1}),
        ("/review/api/images/1/decision", {"action": "accept", "version": 2**70}),
        ("/review/api/images/1/decision", {"action": "correct", "version": 1, "age": 2**70}),
        ("/review/api/images/1/decision", {"action": "correct", "version": 1, "age": 30, "gender": 2**70}),
        ("/review/api/decisions", {"action": "accept", "images": [{"id": 2**70, "version": 1}]}),
        ("/review/api/decisions", {"action": "accept", "images": [{"id": 1, "version": -(2**70)}]}),
    ],
)
def test_huge_numbers_in_a_review_decision_get_a_4xx(reviewer, url, body):
    _error_code(reviewer.post(url, json=body, headers={"X-Requested-With": "fetch"}))
