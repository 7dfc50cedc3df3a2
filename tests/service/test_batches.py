"""Batches through the API: many files or one zip, per-item status, results as one zip (through the session's
worker); zip attacks and bad requests refused before any work (on an app of the test's own). Who may open a
batch: test_api_access.py."""

import io
import json
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, update

from service import jobs
from service.auth import create_api_key
from service.batches import clean_name
from service.models import Batch, Job, ResultImage, Upload, utcnow


@pytest.fixture(scope="module")
def key(embedded):
    _settings, database, _env = embedded
    return {"Authorization": f"Bearer {create_api_key(database, 'batch operator')}"}


@pytest.fixture
def isolated_key(isolated):
    return {"Authorization": f"Bearer {create_api_key(isolated.database, 'batch operator')}"}


def _post_archive(client, archive: bytes, headers: dict, **form):
    data = {"archive": (io.BytesIO(archive), "photos.zip"), **form}
    return client.post("/api/v1/batches", data=data, headers=headers, content_type="multipart/form-data")


def _wall() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _wait_for_batch(client, url, headers, timeout=240):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(url, headers=headers).get_json()
        if batch["status"] == "done":
            return batch
        time.sleep(0.5)
    raise AssertionError(f"batch did not finish: {batch}")


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("a.jpg", "a.jpg"),
        ("trip/day 1/a.jpg", "trip/day 1/a.jpg"),
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/path.jpg", "abs/path.jpg"),
        ("win\\dir\\b.jpg", "win/dir/b.jpg"),
        ("folder/", None),
        ("__MACOSX/._a.jpg", None),
        ("x/.DS_Store", None),
    ],
)
def test_names_in_a_batch_stay_inside_it(raw, clean):
    assert clean_name(raw) == clean


# --- Through the session's worker: batches aged end to end ---------------------------------------------------


def test_many_files_become_items_with_their_own_outcome(client, key, astronaut_jpeg):
    files = [
        (io.BytesIO(astronaut_jpeg), "astronaut.jpg"),
        (io.BytesIO(b"hello"), "notes.jpg"),
        (io.BytesIO(_wall()), "wall.png"),
    ]
    reply = client.post(
        "/api/v1/batches", data={"photos": files, "ages": "30,70"}, headers=key, content_type="multipart/form-data"
    )
    assert reply.status_code == 202, reply.get_json()
    batch = _wait_for_batch(client, reply.get_json()["urls"]["self"], key)
    by_name = {item["name"]: item for item in batch["items"]}
    assert by_name["astronaut.jpg"]["status"] == "done"
    assert by_name["notes.jpg"]["error"]["code"] == "not_an_image"
    assert by_name["wall.png"]["error"]["code"] == "no_face"
    assert batch["counts"] == {"queued": 0, "running": 0, "done": 1, "failed": 2}
    archive = zipfile.ZipFile(io.BytesIO(client.get(batch["urls"]["results"], headers=key).data))
    assert "astronaut/photo-age-070.jpg" in archive.namelist()
    assert len(json.loads(archive.read("summary.json"))["items"]) == 3


def test_a_zip_keeps_its_folder_tree_and_its_names_cannot_escape(client, key, astronaut_jpeg):
    archive = _zip({"trip/day1/astronaut.jpg": astronaut_jpeg, "../../evil.jpg": astronaut_jpeg, "trip/": b""})
    reply = client.post(
        "/api/v1/batches",
        data={"archive": (io.BytesIO(archive), "photos.zip"), "ages": "50"},
        headers=key,
        content_type="multipart/form-data",
    )
    assert reply.status_code == 202, reply.get_json()
    batch = _wait_for_batch(client, reply.get_json()["urls"]["self"], key)
    assert sorted(item["name"] for item in batch["items"]) == ["evil.jpg", "trip/day1/astronaut.jpg"]
    names = zipfile.ZipFile(io.BytesIO(client.get(batch["urls"]["results"], headers=key).data)).namelist()
    assert "trip/day1/astronaut/photo-age-050.jpg" in names and not any(".." in n for n in names)


# --- Refused before any work, on an app of the test's own ----------------------------------------------------


def test_a_zip_bomb_is_refused(isolated, isolated_key):
    bomb = _zip({"big.jpg": b"\0" * 20_000_000})  # 20 MB of zeros in about 20 kB
    reply = _post_archive(isolated.client, bomb, isolated_key)
    assert reply.status_code == 413 and reply.get_json()["error"]["code"] == "zip_bomb"
    assert isolated.enqueued == []


def test_a_batch_over_the_file_count_is_refused(isolated, isolated_key, astronaut_jpeg):
    small = isolated.client_with(max_batch_files=2)
    archive = _zip({f"{i}.jpg": astronaut_jpeg for i in range(3)}, zipfile.ZIP_STORED)
    reply = _post_archive(small, archive, isolated_key)
    assert reply.status_code == 413 and reply.get_json()["error"]["code"] == "too_many_files"
    assert isolated.enqueued == []


def test_a_broken_zip_is_named(isolated, isolated_key):
    reply = _post_archive(isolated.client, b"PK\x03\x04 broken", isolated_key)
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "bad_archive"


def test_a_zip_with_a_damaged_member_is_a_400_that_names_it(isolated, isolated_key, astronaut_jpeg):
    archive = bytearray(_zip({"me.jpg": astronaut_jpeg}, zipfile.ZIP_STORED))
    at = archive.find(astronaut_jpeg[100:120])
    archive[at] ^= 0xFF  # one flipped byte: the stored CRC no longer matches
    reply = _post_archive(isolated.client, bytes(archive), isolated_key)
    error = reply.get_json()["error"]
    assert reply.status_code == 400 and error["code"] == "bad_archive" and "me.jpg" in error["message"]


def test_an_encrypted_zip_is_a_400_that_says_to_send_it_without_a_password(isolated, isolated_key, astronaut_jpeg):
    archive = bytearray(_zip({"secret/me.jpg": astronaut_jpeg}, zipfile.ZIP_STORED))
    # Mark the member encrypted, as a password-protected zip does (flag bit 0, in its local and central headers).
    archive[6] |= 0x1
    archive[archive.find(b"PK\x01\x02") + 8] |= 0x1
    reply = _post_archive(isolated.client, bytes(archive), isolated_key)
    error = reply.get_json()["error"]
    assert reply.status_code == 400 and error["code"] == "encrypted_archive" and "password" in error["message"]


@pytest.mark.parametrize(
    "form, code", [({"ages": "5,old"}, "bad_ages"), ({"ages": "500"}, "bad_ages"), ({"gender": "x"}, "bad_gender")]
)
def test_bad_options_refuse_the_whole_batch_before_anything_is_queued(
    isolated, isolated_key, astronaut_jpeg, form, code
):
    reply = _post_archive(isolated.client, _zip({"a.jpg": astronaut_jpeg}), isolated_key, **form)
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == code
    assert isolated.enqueued == []


def test_a_batch_without_files_says_what_to_send(isolated, isolated_key):
    reply = isolated.client.post(
        "/api/v1/batches", data={"ages": "20"}, headers=isolated_key, content_type="multipart/form-data"
    )
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "no_files"
    assert "photos" in reply.get_json()["error"]["message"]


# --- A batch's lifecycle: deleted on request, expired, emptied ------------------------------------------------


def _stored_batch(isolated, isolated_key, astronaut_jpeg) -> dict:
    """A batch of two photos, one of them with results stored as a worker would have."""
    photos = [(io.BytesIO(astronaut_jpeg), "a.jpg"), (io.BytesIO(astronaut_jpeg), "b.jpg")]
    reply = isolated.client.post("/api/v1/batches", data={"photos": photos}, headers=isolated_key)
    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    aged = SimpleNamespace(name="photo-age-040.jpg", kind="composite", face=None, age=40.0, content_type="image/jpeg")
    done = {"faces": [], "composites": [{"age": 40.0, "file": aged.name}]}
    jobs.store_results(isolated.database, body["items"][0]["job"], done, [SimpleNamespace(**vars(aged), content=b"x")])
    return body


def _rows(database) -> dict[str, int]:
    with database.session() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Batch, Job, Upload, ResultImage)
        }


def test_deleting_a_batch_removes_it_its_jobs_and_their_files(isolated, isolated_key, astronaut_jpeg):
    batch = _stored_batch(isolated, isolated_key, astronaut_jpeg)
    assert _rows(isolated.database) == {"Batch": 1, "Job": 2, "Upload": 2, "ResultImage": 1}
    assert isolated.client.delete(batch["urls"]["self"], headers=isolated_key).status_code == 204
    assert _rows(isolated.database) == {"Batch": 0, "Job": 0, "Upload": 0, "ResultImage": 0}
    assert isolated.client.get(batch["urls"]["self"], headers=isolated_key).status_code == 404
    for item in batch["items"]:
        assert isolated.client.get(item["url"], headers=isolated_key).status_code == 404
    assert isolated.client.delete(batch["urls"]["self"], headers=isolated_key).status_code == 404


def test_expired_batches_are_deleted_with_their_jobs_by_the_sweep(isolated, isolated_key, astronaut_jpeg, monkeypatch):
    from worker import tasks

    _stored_batch(isolated, isolated_key, astronaut_jpeg)
    monkeypatch.setattr(tasks, "_database", lambda: isolated.database)
    assert tasks.delete_expired() == 0  # nothing is past its retention yet
    with isolated.database.session() as session:
        session.execute(update(Batch).values(expires_at=utcnow() - timedelta(minutes=1)))
    tasks.delete_expired()
    assert _rows(isolated.database) == {"Batch": 0, "Job": 0, "Upload": 0, "ResultImage": 0}


def test_a_batch_whose_items_were_all_deleted_is_done_not_running(isolated, isolated_key, astronaut_jpeg):
    batch = _stored_batch(isolated, isolated_key, astronaut_jpeg)
    for item in batch["items"]:
        assert isolated.client.delete(item["url"], headers=isolated_key).status_code == 204
    emptied = isolated.client.get(batch["urls"]["self"], headers=isolated_key).get_json()
    assert (emptied["status"], emptied["items"], emptied["progress"]) == ("done", [], 0.0)


# --- Memory: a batch streams through a spooled file, one photo in memory at a time ---------------------------


def _batch_memory_peak(isolated, headers: dict, data: dict) -> tuple[int, dict]:
    """Python's peak allocation while the app takes this batch; the request body is built before counting, and
    what a first request imports (Pillow's plugins among them) is imported before it too."""
    import tracemalloc

    from werkzeug.test import EnvironBuilder

    _post_archive(isolated.client, _zip({"warm-up.jpg": b"not a photo"}), headers)

    environ = EnvironBuilder(
        path="/api/v1/batches", method="POST", data=data, headers=headers, content_type="multipart/form-data"
    ).get_environ()
    tracemalloc.start()
    try:
        reply = isolated.client.open(environ)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, reply


_MEMBERS = 16
_MEMBER_BYTES = 2_000_000  # 32 MB in all; not photos, so each is a quick failed item


def _unreadable_members() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {f"{i}.jpg": rng.integers(0, 256, _MEMBER_BYTES, dtype=np.uint8).tobytes() for i in range(_MEMBERS)}


def test_a_zip_batch_is_read_from_its_spooled_file_one_member_at_a_time(isolated, isolated_key):
    archive = _zip(_unreadable_members(), zipfile.ZIP_STORED)
    peak, reply = _batch_memory_peak(isolated, isolated_key, {"archive": (io.BytesIO(archive), "photos.zip")})
    assert reply.status_code == 202 and len(reply.get_json()["items"]) == _MEMBERS
    assert peak < 4 * _MEMBER_BYTES, f"the batch took {peak / 1e6:.0f} MB; the zip has {len(archive) / 1e6:.0f} MB"


def test_a_batch_of_many_photos_holds_one_photo_in_memory_at_a_time(isolated, isolated_key):
    photos = [(io.BytesIO(content), name) for name, content in _unreadable_members().items()]
    peak, reply = _batch_memory_peak(isolated, isolated_key, {"photos": photos})
    assert reply.status_code == 202 and len(reply.get_json()["items"]) == _MEMBERS
    assert peak < 4 * _MEMBER_BYTES, f"the batch took {peak / 1e6:.0f} MB for {_MEMBERS * _MEMBER_BYTES / 1e6:.0f} MB"
