"""The result page (a finished job) in a real browser at phone and desktop size: one age for the whole page, every
face numbered on the photo and tied to its block, the faces left out said in a line each, and nothing an
accessibility check calls serious. The jobs are finished here, with results made without the model (tinted copies
of the photo), so that the page is all that is tested and each test takes seconds."""

import functools
import io

import numpy as np
import pytest
from PIL import Image

from aging_model import animation
from aging_model.outputs import OutputFile
from service import jobs

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


def _finished_job(page, site, pixels: np.ndarray, ages: list[float], boxes: list, left_out=(), film=False) -> str:
    """A job of `pixels`, accepted through the API and finished here: a face at each of `boxes` aged to `ages`, and
    the faces at `left_out` ((box, size px)) too small to age. Returns its page's address (token included)."""
    url, _settings, database = site
    reply = page.request.post(
        url + "/api/v1/jobs",
        multipart={"photo": {"name": "us.jpg", "mimeType": "image/jpeg", "buffer": _encoded(pixels, "JPEG")}},
    ).json()
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
        lifespan_faces = []
        files.append(OutputFile("lifespan-photo.mp4", "lifespan-photo", None, None, "video/mp4", _film(pixels)))
        for face in faces[: len(boxes)]:
            x0, y0, x1, y1 = (round(v) for v in face["box"])
            name = f"face-{face['face']}/lifespan.mp4"
            files.append(OutputFile(name, "lifespan", face["face"], None, "video/mp4", _film(pixels[y0:y1, x0:x1])))
            lifespan_faces.append({"face": face["face"], "mp4": name, "gif": name})
        document["lifespan"] = {
            "ages": animation.lifespan_ages(),
            "frames_per_second": animation.FRAMES_PER_SECOND,
            "photo": "lifespan-photo.mp4",
            "faces": lifespan_faces,
        }
    jobs.store_results(database, reply["id"], document, files)
    return url + reply["urls"]["page"]


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
