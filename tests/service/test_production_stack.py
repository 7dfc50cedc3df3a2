"""The production stack for real: PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379), skipped with the
reason where they are not reachable. A fresh database and a Redis database number are used and cleaned."""

import io
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from PIL import Image
from production_support import migrated_production, scratch_postgres, scratch_redis

from service import jobs
from service.app import create_app
from service.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture(scope="module")
def postgres_url():
    with scratch_postgres("faceage_test") as url:
        yield url


@pytest.fixture(scope="module")
def redis_url():
    with scratch_redis(REDIS_URL) as url:
        yield url


@pytest.fixture(scope="module")
def stack(postgres_url, redis_url, tmp_path_factory):
    with migrated_production(postgres_url, redis_url, tmp_path_factory.mktemp("data")) as (env, database):
        yield Settings.from_env(env), database, env


def test_migrations_go_down_and_up_again_on_postgresql(stack):
    _settings, database, _env = stack
    database.upgrade("base")
    database.upgrade("head")
    with database.engine.connect() as connection:
        tables = set(connection.dialect.get_table_names(connection))
    assert {"jobs", "uploads", "result_images", "batches", "api_keys", "alembic_version"} <= tables


def test_jobs_round_trip_through_postgresql(stack, astronaut_jpeg):
    settings, database, _env = stack
    accepted = jobs.accept_photo(database, settings, astronaut_jpeg, [20.0, 60.0], "auto")
    job = jobs.get_job(database, accepted.job_id)
    assert job.status.value == "queued" and job.ages == [20.0, 60.0]
    assert jobs.may_read(job, accepted.token, None) and not jobs.may_read(job, "guess", None)
    assert Image.open(io.BytesIO(jobs.upload_of(database, accepted.job_id))).size == (512, 512)
    assert jobs.delete_job(database, accepted.job_id) and jobs.get_job(database, accepted.job_id) is None


def _child_pids(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def test_a_worker_killed_in_the_middle_of_jobs_loses_none_of_them(stack, astronaut_jpeg, wait_for_job, start_worker):
    """Five photos on Redis + PostgreSQL; the worker's process is SIGKILLed while it ages the first one.
    Celery's late acknowledgement hands the unfinished task to a fresh process: every job ends done."""
    settings, _database, env = stack
    worker = start_worker(env)
    try:
        client = create_app(settings).test_client()
        accepted = []
        for age in (10, 30, 50, 70, 90):
            reply = client.post(
                "/api/v1/jobs",
                data={"photo": (io.BytesIO(astronaut_jpeg), "a.jpg"), "ages": str(age)},
                content_type="multipart/form-data",
            )
            assert reply.status_code == 202
            accepted.append(reply.get_json())
        first = accepted[0]
        deadline = time.monotonic() + 300  # the worker loads its models first, slowly on a loaded 2-core machine
        while (
            client.get(first["urls"]["self"], headers={"X-Job-Token": first["token"]}).get_json()["status"] == "queued"
        ):
            assert time.monotonic() < deadline, "the worker never started the first job"
            time.sleep(0.05)
        children = _child_pids(worker.pid)
        assert children, "the worker has no pool process to kill"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for body in accepted:
            job = wait_for_job(client, body["id"], {"X-Job-Token": body["token"]}, timeout=240)
            assert job["status"] == "done", job
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_a_real_worker_flags_a_dataset_on_postgresql_through_redis(stack, astronaut, start_worker, tmp_path):
    """`faceage dataset flag` hands chunks to a live worker over Redis and follows its progress in PostgreSQL."""
    import sys

    import cv2
    from sqlalchemy import select

    from service import dataset
    from service.models import DatasetImage

    _settings, database, env = stack
    chip = np.ascontiguousarray(astronaut[25:225, 122:322])
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name, pixels in {
        "34_1_0_20170101000000001.jpg.chip.jpg": chip,
        "36_1_0_20170101000000002.jpg.chip.jpg": cv2.GaussianBlur(chip, (0, 0), 3),
        "30_0_0_20170101000000003.jpg.chip.jpg": np.full((200, 200, 3), 128, np.uint8),
    }.items():
        Image.fromarray(pixels).save(folder / name, quality=95)
    dataset.import_files(database, dataset.dataset_files(folder))
    worker = start_worker(env)
    try:
        flagged = subprocess.run(
            [
                sys.executable,
                "-c",
                "from faceage_cli import main; main()",
                "dataset",
                "flag",
                "--chunk-size",
                "2",
                "--stall-s",
                "240",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert flagged.returncode == 0, flagged.stderr
    assert "3 image(s) analysed" in flagged.stdout
    with database.session() as session:
        flags = {
            image.source_path.rsplit("/", 1)[1][:2]: {f.name for f in image.flags}
            for image in session.scalars(select(DatasetImage))
        }
    assert "blurred" in flags["36"] and flags["30"] == {"no_face"} and not flags["34"] & {"no_face", "blurred"}
