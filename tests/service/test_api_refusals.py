"""/api/v1 where the answer comes before any work: refusals, duplicates, deletion, limits, logs and memory, on an
app of the test's own (`isolated`), which records what it would queue."""

import io
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import pytest
from api_support import _jpeg, _post, _stored_jobs
from image_files import png_header_only
from PIL import Image
from sqlalchemy import func, select

from service import jobs
from service.app import create_app
from service.auth import create_api_key
from service.models import ResultImage, Upload

# --- On an app of the test's own: answered before any work -------------------------------------------------


def test_a_photo_is_stored_and_queued_once_with_its_options(isolated, astronaut_jpeg):
    reply = _post(isolated.client, astronaut_jpeg, ages="20,70", gender="female")
    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    assert isolated.enqueued == [body["id"]]
    assert (body["status"], body["ages"], body["gender"]) == ("queued", [20.0, 70.0], "female")


def test_the_same_photo_twice_from_one_key_is_one_job(isolated, astronaut_jpeg):
    key = {"Authorization": f"Bearer {create_api_key(isolated.database, 'repeat')}"}
    first = _post(isolated.client, astronaut_jpeg, headers=key, ages="30")
    second = _post(isolated.client, astronaut_jpeg, headers=key, ages="30")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.get_json()["duplicate"] and second.get_json()["id"] == first.get_json()["id"]
    other_ages = _post(isolated.client, astronaut_jpeg, headers=key, ages="50")
    assert other_ages.get_json()["id"] != first.get_json()["id"]
    assert isolated.enqueued == [first.get_json()["id"], other_ages.get_json()["id"]]  # the duplicate is not


@pytest.mark.parametrize(
    "content, status, code",
    [
        (b"just some text", 400, "not_an_image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, 400, None),  # a JPEG header and nothing after it
        (png_header_only(20_000, 20_000), 413, "image_too_large"),
    ],
)
def test_bad_files_are_refused_at_once_with_a_reason(isolated, content, status, code):
    reply = _post(isolated.client, content)
    assert reply.status_code == status
    error = reply.get_json()["error"]
    assert error["message"] and (code is None or error["code"] == code)
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 150, 120)).save(buffer, "PNG")
    return buffer.getvalue()


TOO_SMALL = [(1, 1), (31, 31), (2000, 20), (20, 2000), (31, 500), (20_000, 40)]  # the last: 2048 x 4 once reduced


@pytest.mark.parametrize("url, field", [("/api/v1/jobs", "photo"), ("/api/v1/explore/codes", "photo")])
@pytest.mark.parametrize("width, height", TOO_SMALL)
def test_an_image_too_small_to_hold_a_face_is_refused_with_its_size(isolated, url, field, width, height):
    data = {field: (io.BytesIO(_png(width, height)), "tiny.png")}
    refused = isolated.client.post(url, data=data, content_type="multipart/form-data")
    assert refused.status_code == 400, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "image_too_small" and f"{width}x{height}" in error["message"] and "32" in error["message"]
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0


def test_a_morph_or_batch_of_an_image_too_small_names_it(isolated, astronaut_jpeg):
    data = {"photo_a": (io.BytesIO(astronaut_jpeg), "a.jpg"), "photo_b": (io.BytesIO(_png(31, 31)), "b.png")}
    morph = isolated.client.post("/api/v1/morphs", data=data, content_type="multipart/form-data")
    assert morph.status_code == 400 and morph.get_json()["error"]["code"] == "image_too_small"
    key = {"Authorization": f"Bearer {create_api_key(isolated.database, 'tiny')}"}
    photos = [(io.BytesIO(astronaut_jpeg), "big.jpg"), (io.BytesIO(_png(1, 1)), "dot.png")]
    batch = isolated.client.post("/api/v1/batches", data={"photos": photos}, headers=key)
    items = {item["name"]: item for item in batch.get_json()["items"]}
    assert items["dot.png"]["status"] == "failed" and items["dot.png"]["error"]["code"] == "image_too_small"
    assert items["big.jpg"]["status"] == "queued"


def test_an_image_of_32_pixels_a_side_is_accepted(isolated):
    reply = _post(isolated.client, _png(32, 32), name="small.png")
    assert reply.status_code == 202, reply.get_json()


def test_a_truncated_photo_is_named(isolated, astronaut_jpeg):
    reply = _post(isolated.client, astronaut_jpeg[: len(astronaut_jpeg) // 2])
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "truncated_image"


@pytest.mark.parametrize(
    "form, code", [({"ages": "5,old"}, "bad_ages"), ({"ages": "500"}, "bad_ages"), ({"gender": "x"}, "bad_gender")]
)
def test_bad_options_are_refused_before_anything_is_stored_or_queued(isolated, astronaut_jpeg, form, code):
    reply = _post(isolated.client, astronaut_jpeg, **form)
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == code
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0


def test_a_request_without_a_photo_says_what_to_send(isolated):
    reply = isolated.client.post("/api/v1/jobs", data={"ages": "20"}, content_type="multipart/form-data")
    assert reply.status_code == 400 and "photo" in reply.get_json()["error"]["message"]


def test_a_heic_photo_from_a_phone_is_accepted(isolated, astronaut):
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "HEIF", quality=90)
    reply = _post(isolated.client, buffer.getvalue(), name="IMG_0001.HEIC")
    assert reply.status_code == 202, reply.get_json()
    assert isolated.enqueued == [reply.get_json()["id"]]


def test_stored_uploads_carry_no_metadata_and_exif_rotation_is_applied(isolated, astronaut):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "PhoneMaker"
    reply = _post(isolated.client, _jpeg(astronaut[:256], exif=exif.tobytes()))
    with isolated.database.session() as session:
        upload = session.get(Upload, reply.get_json()["id"])
        stored = Image.open(io.BytesIO(upload.content))
        assert not stored.getexif() and stored.size == (256, 512)


def test_a_job_the_queue_cannot_take_is_refused_and_not_kept(isolated, astronaut_jpeg):
    def unavailable(job_id):
        raise ConnectionError("the broker is down")

    client = create_app(isolated.settings, enqueue=unavailable).test_client()
    reply = _post(client, astronaut_jpeg)
    assert reply.status_code == 503 and reply.get_json()["error"]["code"] == "queue_unavailable"
    assert _stored_jobs(isolated.database) == 0  # a job no worker hears of would wait forever


def test_deleting_a_job_removes_it_and_its_results(isolated, astronaut_jpeg):
    body = _post(isolated.client, astronaut_jpeg, ages="60").get_json()
    result = SimpleNamespace(
        name="photo-age-060.jpg", kind="composite", face=None, age=60.0, content_type="image/jpeg", content=b"aged"
    )
    jobs.store_results(isolated.database, body["id"], {"faces": [], "composites": []}, [result])
    headers = {"X-Job-Token": body["token"]}
    assert isolated.client.delete(body["urls"]["self"], headers=headers).status_code == 204
    assert isolated.client.get(body["urls"]["self"], headers=headers).status_code == 404
    with isolated.database.session() as session:
        assert session.scalar(select(func.count()).select_from(ResultImage)) == 0
        assert session.get(Upload, body["id"]) is None


def test_expired_jobs_are_deleted(isolated, astronaut_jpeg):
    from datetime import datetime, timedelta

    settings, database = isolated.settings, isolated.database
    accepted = jobs.accept_photo(database, settings, astronaut_jpeg, [20.0], "auto")
    later = datetime.now(UTC) + timedelta(hours=settings.retention_hours + 1)
    assert jobs.delete_expired(database, now=later) == 1
    assert jobs.get_job(database, accepted.job_id) is None


def test_an_upload_over_the_byte_limit_is_refused_before_any_work(isolated, astronaut_jpeg):
    small = isolated.client_with(max_upload_bytes=20_000)
    reply = _post(small, astronaut_jpeg)  # 60 kB
    assert reply.status_code == 413 and "limit" in reply.get_json()["error"]["message"]
    huge = _post(small, astronaut_jpeg * 40)  # over the whole request limit: refused by the server itself
    assert huge.status_code == 413 and huge.get_json()["error"]["code"]
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0


def test_new_jobs_are_rate_limited_per_key_and_reading_is_not(isolated, astronaut_jpeg):
    limited = isolated.client_with(rate_limit="2/minute")
    first, second = ({"Authorization": f"Bearer {create_api_key(isolated.database, n)}"} for n in ("first", "second"))
    replies = [_post(limited, astronaut_jpeg, headers=first, ages=str(age)) for age in (10, 20, 30)]
    assert [r.status_code for r in replies] == [202, 202, 429]
    assert replies[2].get_json()["error"]["code"] == "too_many_requests" and "Retry-After" in replies[2].headers
    assert _post(limited, astronaut_jpeg, headers=second).status_code == 202  # another key has its own budget
    url = replies[0].get_json()["urls"]["self"]
    assert all(limited.get(url, headers=first).status_code == 200 for _ in range(5))


def test_other_spellings_of_one_key_share_its_rate_limit(isolated, astronaut_jpeg):
    limited = isolated.client_with(rate_limit="2/minute")
    key = create_api_key(isolated.database, "spelled-three-ways")
    spellings = [f"Bearer {key}", f"bEaReR   {key}", f"  bearer {key}  "]
    replies = [
        _post(limited, astronaut_jpeg, headers={"Authorization": header}, ages=str(age))
        for header, age in zip(spellings, (10, 20, 30))
    ]
    assert [r.status_code for r in replies] == [202, 202, 429]


def test_logs_carry_neither_tokens_nor_image_bytes(isolated, astronaut_jpeg, caplog):
    """The web app's own log lines, while a photo is accepted and its job read by header and by query string
    (what the worker logs goes to its own process)."""
    import logging

    with caplog.at_level(logging.DEBUG):
        body = _post(isolated.client, astronaut_jpeg, ages="33").get_json()
        isolated.client.get(body["urls"]["self"], headers={"X-Job-Token": body["token"]})
        isolated.client.get(body["urls"]["self"], query_string={"token": body["token"]})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert body["id"] in logged  # the job is logged, by its id
    assert body["token"] not in logged and "JFIF" not in logged and "\\xff\\xd8" not in logged


def test_a_job_token_in_the_query_string_never_reaches_the_request_log(isolated, caplog):
    import logging
    import threading

    import requests
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, isolated.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            reply = requests.get(
                f"http://127.0.0.1:{server.server_port}/api/v1/jobs/nope?token=S3CRET-T0KEN", timeout=10
            )
    finally:
        server.shutdown()
    assert reply.status_code == 404
    assert "/api/v1/jobs/nope" in caplog.text and "[redacted]" in caplog.text
    assert "S3CRET-T0KEN" not in caplog.text


def test_a_deleted_photo_is_gone_from_the_database_files_and_the_folder_is_private(isolated, astronaut_jpeg):
    data_dir = Path(isolated.settings.data_dir)
    reply = _post(isolated.client, astronaut_jpeg)
    with isolated.database.session() as session:
        stored = session.scalars(select(Upload.content)).one()
    marker = stored[len(stored) // 2 : len(stored) // 2 + 64]  # compressed image data: unique in the files

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in data_dir.glob("faceage.sqlite*"))

    assert marker in on_disk()
    headers = {"X-Job-Token": reply.get_json()["token"]}
    assert isolated.client.delete(reply.get_json()["urls"]["self"], headers=headers).status_code == 204
    assert marker not in on_disk()
    assert data_dir.stat().st_mode & 0o077 == 0


_BOMB_UPLOAD = """
import io, json, sys
from service.app import create_app
from service.config import Settings
from service.database import Database
settings = Settings(data_dir=sys.argv[1])
Database(settings.database_url).upgrade()
client = create_app(settings, enqueue=lambda job_id: None).test_client()
bomb = open(sys.argv[2], "rb").read()
def high_water_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
before = high_water_mb()
reply = client.post("/api/v1/jobs", data={"photo": (io.BytesIO(bomb), "bomb.png")}, content_type="multipart/form-data")
code = reply.get_json()["error"]["code"]
print(json.dumps({"status": reply.status_code, "code": code, "grew_mb": high_water_mb() - before}))
"""


def test_a_tiny_png_declaring_120_megapixels_is_refused_without_decoding_it(tmp_path):
    """The web process's peak memory, measured in a fresh process: a 15 KB PNG of 10950 x 10950 pixels
    (under the declared-size limit) must not be decoded whole (360 MB) to be refused."""
    import json
    import subprocess
    import sys

    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_950, 10_950)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 100_000
    done = subprocess.run(
        [sys.executable, "-c", _BOMB_UPLOAD, str(tmp_path / "data"), str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 413 and outcome["code"] == "image_too_large"
    assert outcome["grew_mb"] < 50, outcome


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_a_bad_animate_value_is_refused_before_anything_is_stored(isolated, astronaut_jpeg, value):
    reply = _post(isolated.client, astronaut_jpeg, animate=value)
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "bad_animate"
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"photo_a": "a"}, "missing_photo"),
        ({"photo_a": "a", "photo_b": "a", "age": "120"}, "bad_age"),
        ({"photo_a": "a", "photo_b": "a", "age": "old"}, "bad_age"),
        ({"photo_a": "a", "photo_b": "text"}, "not_an_image"),
    ],
)
def test_a_bad_morph_request_is_refused_with_the_reason(isolated, astronaut_jpeg, fields, code):
    contents = {"a": astronaut_jpeg, "text": b"this is not a photo"}
    data = {k: (io.BytesIO(contents[v]), f"{k}.jpg") if k.startswith("photo") else v for k, v in fields.items()}
    reply = isolated.client.post("/api/v1/morphs", data=data, content_type="multipart/form-data")
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == code
    assert isolated.enqueued == [] and _stored_jobs(isolated.database) == 0
