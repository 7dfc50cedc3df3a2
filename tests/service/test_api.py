"""/api/v1 where a job must be aged: end to end, through the session's real worker (the embedded database and
broker). Where the answer comes before any work: test_api_refusals.py. Who may open a job: test_api_access.py;
how ages and genders are read: test_jobs.py."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from api_support import _jpeg, _post
from PIL import Image

from service import jobs
from service.models import Job, utcnow

# --- Through the session's worker: photos aged end to end -------------------------------------------------


@pytest.fixture(scope="module")
def finished(client, astronaut_jpeg, wait_for_job):
    """One photo sent through the whole service and aged."""
    reply = _post(client, astronaut_jpeg, ages="20,70")
    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    headers = {"X-Job-Token": body["token"]}
    return body, headers, wait_for_job(client, body["id"], headers)


def test_a_photo_is_accepted_with_its_urls_and_aged_by_a_worker(finished):
    accepted, _headers, job = finished
    assert accepted["status"] == "queued" and accepted["urls"]["page"].endswith("#" + accepted["token"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None
    [face] = job["faces"]
    assert face["usable"] and face["aged"] and "left_out" not in face
    assert face["quality"]["detection_probability"] > 0.9 and 20 < face["estimated_age"] < 55
    assert [c["age"] for c in job["results"]["composites"]] == [20, 70]
    assert [a["age"] for a in job["results"]["faces"][0]["ages"]] == [20, 70]


def test_result_images_are_served_to_the_owner_without_metadata(client, finished):
    _accepted, headers, job = finished
    reply = client.get(job["results"]["composites"][1]["url"], headers=headers)
    assert reply.status_code == 200 and reply.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(reply.data))
    assert image.size == (512, 512) and not image.getexif()


def test_everything_comes_as_one_zip(client, finished):
    _accepted, headers, job = finished
    reply = client.get(job["results"]["zip"], headers=headers)
    names = zipfile.ZipFile(io.BytesIO(reply.data)).namelist()
    assert "result.json" in names and "photo-age-070.jpg" in names and "face-1/strip.jpg" in names


def test_a_photo_without_a_face_fails_with_the_reason(client, wait_for_job):
    reply = _post(client, _jpeg(np.full((300, 400, 3), 120, np.uint8)))
    assert reply.status_code == 202
    job = wait_for_job(client, reply.get_json()["id"], {"X-Job-Token": reply.get_json()["token"]})
    assert job["status"] == "failed" and job["error"]["code"] == "no_face" and "no face" in job["error"]["message"]


def test_a_job_whose_message_was_lost_is_found_and_finished(client, embedded, astronaut_jpeg, wait_for_job):
    """A job in the database that no worker ever heard of (a lost broker message) is found by the periodic
    requeue_stalled task (here with a 3 s threshold), handed to the workers again, and finished."""
    from datetime import timedelta

    from worker.celery_app import create_celery

    settings, database, _env = embedded
    accepted = jobs.accept_photo(database, settings, astronaut_jpeg, [45.0], "auto")  # stored, never enqueued
    with database.session() as session:  # dated back past the threshold, instead of waiting for it to pass
        stalled_since = utcnow() - timedelta(seconds=settings.requeue_queued_after_s + 1)
        session.get(Job, accepted.job_id).updated_at = stalled_since
    create_celery(settings).send_task("worker.tasks.requeue_stalled", queue="faceage")
    job = wait_for_job(client, accepted.job_id, {"X-Job-Token": accepted.token})
    assert job["status"] == "done"


def test_the_health_check_reports_the_running_worker_and_the_queue(client, finished):
    import time

    deadline = time.monotonic() + 60
    while (reply := client.get("/healthz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)  # the session's worker beats every few seconds
    body = reply.get_json()
    assert reply.status_code == 200, body
    assert body["status"] == "ok" and body["workers_ready"] >= 1 and body["last_heartbeat_s"] < 30
    assert body["queued_jobs"] >= 0 and client.get("/livez").get_json() == {"status": "ok"}


def test_twenty_concurrent_uploads_all_end_done(live_server, astronaut):
    """20 people upload at the same moment (over HTTP, through the threaded server): every job is accepted,
    none is lost, and every one ends done."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def upload(i: int) -> dict:
        # Each person's own photo: the astronaut, brightened a little differently.
        pixels = np.clip(astronaut.astype(int) + i, 0, 255).astype(np.uint8)
        reply = requests.post(
            f"{live_server}/api/v1/jobs", files={"photo": (f"p{i}.jpg", _jpeg(pixels))}, data={"ages": "60"}, timeout=60
        )
        assert reply.status_code == 202, reply.text
        return reply.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        accepted = list(pool.map(upload, range(20)))
    assert len({a["id"] for a in accepted}) == 20
    deadline = time.monotonic() + 300
    pending = {a["id"]: a["token"] for a in accepted}
    while pending and time.monotonic() < deadline:
        for job_id, token in list(pending.items()):
            job = requests.get(f"{live_server}/api/v1/jobs/{job_id}", headers={"X-Job-Token": token}, timeout=30).json()
            if job["status"] in ("done", "failed"):
                assert job["status"] == "done", job
                del pending[job_id]
        time.sleep(1)
    assert not pending, f"{len(pending)} of 20 jobs did not finish"


def test_a_morph_job_makes_a_film_of_one_face_becoming_the_other(client, astronaut_jpeg, wait_for_job):

    from aging_model.media.animation import frames_and_seconds

    obama = (Path(__file__).resolve().parents[2] / "docs" / "obama.jpg").read_bytes()
    data = {"photo_a": (io.BytesIO(astronaut_jpeg), "a.jpg"), "photo_b": (io.BytesIO(obama), "b.jpg"), "age": "60"}
    reply = client.post("/api/v1/morphs", data=data, content_type="multipart/form-data")
    assert reply.status_code == 202, reply.get_json()
    body = reply.get_json()
    assert body["morph"] == {"age": 60.0} and body["urls"]["page"].endswith("#" + body["token"])
    headers = {"X-Job-Token": body["token"]}
    job = wait_for_job(client, body["id"], headers)
    assert job["status"] == "done", job
    morph = job["results"]["morph"]
    film = client.get(morph["mp4"], headers=headers)
    assert film.mimetype == "video/mp4" and frames_and_seconds(film.data)[0] == 41
    assert client.get(morph["strip"], headers=headers).mimetype == "image/jpeg"
    assert client.get(morph["mp4"]).status_code in (401, 404)  # nobody else
