"""The jobs of a worker killed outright go back to the queue once its heartbeat is gone, and only those: a job of
a worker heard from recently stays with it (on a database of the test's own, no worker running)."""

from datetime import UTC, datetime, timedelta

import pytest

from service import jobs, workers
from service.config import Settings
from service.models import Job, WorkerHeartbeat


@pytest.fixture
def db(tmp_path, fresh_database):
    settings = Settings(data_dir=str(tmp_path), worker_heartbeat_s=1.0)
    database = fresh_database(settings.database_url)
    yield database, settings
    database.dispose()


def _running(db, settings, jpeg, task_id, worker) -> str:
    accepted = jobs.accept_photo(db, settings, jpeg, [40.0], "auto")
    assert jobs.start_attempt(db, accepted.job_id, task_id, worker) is not None
    return accepted.job_id


def test_only_the_jobs_of_workers_whose_heartbeat_is_gone_are_handed_back(db, astronaut_jpeg):
    db, settings = db
    workers.beat(db, "celery@a:1", ready=True)
    workers.beat(db, "celery@b:2", ready=True)
    alive = _running(db, settings, astronaut_jpeg, "task-a", "celery@a:1")
    stale = _running(db, settings, astronaut_jpeg, "task-b", "celery@b:2")
    forgotten = _running(db, settings, astronaut_jpeg, "task-c", "celery@c:3")  # stopped and took itself off
    unknown = _running(db, settings, astronaut_jpeg, "task-d", None)  # no worker recorded: the stalled-job sweep's
    assert workers.requeue_orphans(db, heartbeat_s=1.0) == [forgotten]
    with db.session() as session:
        session.get(WorkerHeartbeat, "celery@b:2").seen_at = datetime.now(UTC) - timedelta(seconds=3.5)
    assert workers.requeue_orphans(db, heartbeat_s=1.0) == [stale]
    assert workers.requeue_orphans(db, heartbeat_s=1.0) == []  # each goes back once
    with db.session() as session:
        states = {job.id: (job.status.value, job.claimed_by, job.worker) for job in session.query(Job)}
    assert states[alive] == ("running", "task-a", "celery@a:1")
    assert states[unknown] == ("running", "task-d", None)
    assert states[stale] == states[forgotten] == ("queued", None, None)
    # The next delivery takes it as a new attempt on the worker that runs it.
    job = jobs.start_attempt(db, stale, "task-e", "celery@a:1")
    assert job.attempts == 2 and job.worker == "celery@a:1"


def test_a_job_taken_along_belongs_to_the_worker_that_took_it(db, astronaut_jpeg):
    db, settings = db
    accepted = jobs.accept_photo(db, settings, astronaut_jpeg, [40.0], "auto")
    [taken] = jobs.claim_queued(db, "task-a", 1, "celery@a:1")
    assert taken.id == accepted.job_id and taken.worker == "celery@a:1"
    assert workers.requeue_orphans(db, heartbeat_s=1.0) == [accepted.job_id]  # celery@a:1 never beat
