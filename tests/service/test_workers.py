"""Worker heartbeats and the health they add up to, on a database of the test's own (no worker running)."""

from datetime import UTC, datetime, timedelta

import pytest

from service import jobs, workers
from service.app import create_app
from service.config import Settings
from service.database import Database
from service.models import WorkerHeartbeat


@pytest.fixture
def settings(tmp_path, fresh_database):
    settings = Settings(data_dir=str(tmp_path), worker_heartbeat_s=1.0)
    fresh_database(settings.database_url).dispose()
    return settings


@pytest.fixture
def db(settings):
    database = Database(settings.database_url)
    yield database
    database.dispose()


def _age_heartbeat(db, name, seconds):
    with db.session() as session:
        session.get(WorkerHeartbeat, name).seen_at = datetime.now(UTC) - timedelta(seconds=seconds)


def test_no_worker_is_unhealthy_until_one_beats_and_loads_its_models(db):
    assert workers.health(db, heartbeat_s=1.0).status == "no_worker"
    workers.beat(db, "celery@a:1")
    assert workers.health(db, heartbeat_s=1.0).status == "starting"
    workers.beat(db, "celery@a:1", ready=True)
    report = workers.health(db, heartbeat_s=1.0)
    assert report.healthy and (report.workers_alive, report.workers_ready) == (1, 1)


def test_a_worker_that_stopped_beating_goes_stale_and_a_clean_stop_is_immediate(db):
    workers.beat(db, "celery@a:1", ready=True)
    workers.beat(db, "celery@b:2", ready=True)
    _age_heartbeat(db, "celery@a:1", seconds=3.5)  # missed three beats of a second
    assert workers.health(db, heartbeat_s=1.0).workers_ready == 1
    workers.forget(db, "celery@b:2")
    report = workers.health(db, heartbeat_s=1.0)
    assert report.status == "no_worker" and report.last_heartbeat_s >= 3.5


def test_the_oldest_queued_job_is_reported(db, settings, astronaut_jpeg):
    assert workers.health(db, heartbeat_s=1.0).oldest_queued_s is None
    accepted = jobs.accept_photo(db, settings, astronaut_jpeg, [40.0], "auto", api_key_id=None)
    with db.session() as session:
        from service.models import Job

        session.get(Job, accepted.job_id).created_at = datetime.now(UTC) - timedelta(minutes=5)
    report = workers.health(db, heartbeat_s=1.0)
    assert report.queued_jobs == 1 and 299 <= report.oldest_queued_s <= 310


def test_ready_since_counts_only_workers_ready_after_the_moment(db):
    before = datetime.now(UTC)
    assert not workers.ready_since(db, before)
    workers.beat(db, "celery@a:1")
    assert not workers.ready_since(db, before)
    workers.beat(db, "celery@a:1", ready=True)
    assert workers.ready_since(db, before)
    assert not workers.ready_since(db, datetime.now(UTC) + timedelta(seconds=1))


def test_healthz_answers_503_without_a_worker_and_200_with_one(settings, db):
    client = create_app(settings, enqueue=lambda job_id: None).test_client()
    reply = client.get("/healthz")
    assert reply.status_code == 503 and reply.get_json()["status"] == "no_worker"
    assert client.get("/livez").status_code == 200
    workers.beat(db, "celery@a:1", ready=True)
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.get_json()["workers_ready"] == 1


def test_healthz_answers_503_when_the_database_is_away(tmp_path):
    settings = Settings(data_dir=str(tmp_path), database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    reply = create_app(settings, enqueue=lambda job_id: None).test_client().get("/healthz")
    assert reply.status_code == 503 and reply.get_json()["status"] == "database_unreachable"


def test_the_web_app_does_not_load_pytorch():
    """The web process decodes and stores uploads only: without PyTorch it starts in a fraction of the time
    and holds about 130 MB instead of 700."""
    import subprocess
    import sys

    probe = (
        "import sys, tempfile; from service.app import create_app; from service.config import Settings; "
        "create_app(Settings(data_dir=tempfile.mkdtemp()), enqueue=lambda job_id: None); "
        "print(sorted(m for m in ('torch', 'torchvision', 'facenet_pytorch', 'dlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_serve_queues_again_the_jobs_its_dead_worker_was_running_and_no_others(db, settings, astronaut_jpeg):
    """The embedded broker never hands a message out twice: `faceage serve` sends the running jobs again itself
    once its worker is gone (tests/service/test_serve.py kills a real one)."""
    import sqlalchemy as sa

    from faceage_cli.serving import _hand_back_running_jobs

    accepted = [jobs.accept_photo(db, settings, astronaut_jpeg, [40.0], "auto").job_id for _ in range(4)]
    running, queued, done = accepted[:2], accepted[2], accepted[3]
    for job_id in [*running, done]:
        jobs.start_attempt(db, job_id, "task-of-the-dead-worker")
    jobs.store_results(db, done, {}, [])

    _hand_back_running_jobs(settings, db)

    states = {job_id: jobs.get_job(db, job_id) for job_id in accepted}
    assert [states[j].status.value for j in accepted] == ["queued", "queued", "queued", "done"]
    assert all(states[j].claimed_by is None and states[j].attempts == 1 for j in running)
    broker = sa.create_engine(f"sqlite:///{settings.data_dir}/broker.sqlite")
    with broker.connect() as connection:
        sent = [row[0] for row in connection.execute(sa.text("SELECT payload FROM kombu_message"))]
    broker.dispose()
    assert len(sent) == 2 and all(any(j in payload for payload in sent) for j in running)
    _hand_back_running_jobs(settings, db)  # nothing is running any more: nothing is sent twice
    assert jobs.get_job(db, queued).status.value == "queued"
