"""A worker that ages several queued jobs in one model call (the GPU default), forced on here for the CPU."""

import io
import os

import numpy as np
from PIL import Image

from service import jobs
from service.app import create_app
from service.config import Settings
from service.database import Database


def _jpeg(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_queued_jobs_are_aged_together_and_each_ends_with_its_own_outcome(
    tmp_path, astronaut, start_worker, wait_for_job
):
    from tests.service.conftest import stop

    env = {**os.environ, "FACEAGE_DATA_DIR": str(tmp_path), "FACEAGE_DEVICE": "cpu", "FACEAGE_JOBS_PER_MODEL_CALL": "4"}
    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    database.upgrade()
    client = create_app(settings).test_client()
    photos = {
        "20,60": _jpeg(astronaut),
        "40": _jpeg(astronaut[:, ::-1].copy()),
        "80": _jpeg(np.full((300, 400, 3), 90, np.uint8)),
    }
    accepted = {}
    for ages, photo in photos.items():  # all queued before any worker runs
        reply = client.post(
            "/api/v1/jobs",
            data={"photo": (io.BytesIO(photo), "p.jpg"), "ages": ages},
            content_type="multipart/form-data",
        )
        assert reply.status_code == 202
        accepted[ages] = reply.get_json()

    worker = start_worker(env)
    try:
        done = {
            ages: wait_for_job(client, body["id"], {"X-Job-Token": body["token"]}) for ages, body in accepted.items()
        }
    finally:
        stop(worker)

    assert done["20,60"]["status"] == "done" and done["40"]["status"] == "done"
    assert [c["age"] for c in done["20,60"]["results"]["composites"]] == [20, 60]
    assert [c["age"] for c in done["40"]["results"]["composites"]] == [40]
    assert done["80"]["status"] == "failed" and done["80"]["error"]["code"] == "no_face"
    aged_together = [
        jobs.get_job(database, body["id"]).result["photos_aged_together"] for body in list(accepted.values())[:2]
    ]
    assert aged_together == [2, 2]  # one model call for both photos with a face
    assert all(jobs.get_job(database, body["id"]).attempts == 1 for body in accepted.values())  # none aged twice
