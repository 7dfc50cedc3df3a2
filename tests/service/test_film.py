"""The lifespan film comes after the stills (issue 18, "fast first"): a job asked for with `animate=true` is done as
soon as its stills are, and its film follows with its own state and progress (`film` in the job's JSON), never
holding the stills back; a film that fails leaves the job done with its stills; a film interrupted by a worker's
end is made again. End to end through the session's real worker where the model must run; on a database of the
test's own (`isolated`) where the states are set by hand."""

import io
import secrets
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from aging_model.outputs import OutputFile
from service import films, jobs
from service.database import Database
from service.models import FilmStatus, Job, JobStatus


def _post(client, content: bytes, headers=None, **form):
    data = {"photo": (io.BytesIO(content), "photo.jpg"), **form}
    return client.post("/api/v1/jobs", data=data, headers=headers or {}, content_type="multipart/form-data")


# --- Through the session's worker -------------------------------------------------------------------------------


def test_the_job_is_done_with_its_stills_before_the_film_which_follows_with_its_progress(client, astronaut_jpeg):
    from aging_model.media.animation import frames_and_seconds

    reply = _post(client, astronaut_jpeg, ages="30,70", animate="true")
    assert reply.status_code == 202, reply.get_json()
    accepted = reply.get_json()
    assert accepted["animate"] is True and accepted["film"] == {"state": "pending", "progress": 0.0, "error": None}
    headers = {"X-Job-Token": accepted["token"]}

    seen, stills_first = [], None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{accepted['id']}", headers=headers).get_json()
        seen.append((job["status"], job["film"]["state"], job["film"]["progress"]))
        if job["status"] == "done" and job["film"]["state"] in ("pending", "running") and stills_first is None:
            stills_first = job
            # The stills can be fetched now, while the film is still to come.
            composite = client.get(job["results"]["composites"][0]["url"], headers=headers)
            assert composite.status_code == 200 and composite.mimetype == "image/jpeg"
        if job["status"] == "failed" or job["film"]["state"] in ("done", "failed"):
            break
        time.sleep(0.05)

    assert stills_first is not None, f"never seen done without its film: {seen}"
    assert "lifespan" not in stills_first["results"] and stills_first["progress"] == 1.0
    assert [c["age"] for c in stills_first["results"]["composites"]] == [30, 70]
    assert job["status"] == "done" and job["film"] == {"state": "done", "progress": 1.0, "error": None}, job
    running = [progress for _status, state, progress in seen if state == "running"]
    assert running == sorted(running), "the film's progress went back"
    assert any(0 < progress < 1 for progress in running), seen  # its progress is shown while it is made

    lifespan = job["results"]["lifespan"]
    [face] = lifespan["faces"]
    for url, kind in ((lifespan["photo"], "video/mp4"), (face["mp4"], "video/mp4"), (face["gif"], "image/gif")):
        whole = client.get(url, headers=headers)
        assert whole.status_code == 200 and whole.mimetype == kind
        assert frames_and_seconds(whole.data)[0] == 41
    part = client.get(face["mp4"], headers={**headers, "Range": "bytes=0-99"})  # a player can seek in it
    assert part.status_code == 206 and len(part.data) == 100
    # The stills are the ones shown before the film (not made again with it), and the zip holds both.
    assert client.get(stills_first["results"]["composites"][0]["url"], headers=headers).data == composite.data
    names = zipfile.ZipFile(io.BytesIO(client.get(job["results"]["zip"], headers=headers).data)).namelist()
    assert {"photo-age-030.jpg", "lifespan-photo.mp4", "face-1/lifespan.mp4", "face-1/lifespan.gif"} <= set(names)


def test_a_job_without_the_film_has_none(client, astronaut_jpeg):
    reply = _post(client, astronaut_jpeg, ages="40")
    assert reply.get_json()["animate"] is False and reply.get_json()["film"] is None


# --- States set by hand, on a database of the test's own ---------------------------------------------------------

STILL = OutputFile("photo-age-040.jpg", "composite", None, 40.0, "image/jpeg", b"the still")
DOCUMENT = {"faces": [{"face": 1, "box": [0, 0, 1, 1]}], "composites": []}  # a face, its files left out


def _done_with_stills(isolated, astronaut_jpeg) -> str:
    """A job asked for with the film, done with its stills (one stand-in file)."""
    db, settings = isolated.database, isolated.settings
    job_id = jobs.accept_photo(db, settings, astronaut_jpeg, [40.0], "auto", animate=True).job_id
    jobs.start_attempt(db, job_id, "stills-task")
    jobs.store_results(db, job_id, DOCUMENT, [STILL])
    return job_id


def _files(database: Database, job_id: str) -> list[tuple[str, bytes]]:
    return [(image.name, image.content) for image in jobs.result_images(database, job_id)]


@pytest.fixture
def tasks(isolated, monkeypatch):
    """The worker's tasks, run in this process on the test's database (Celery's `apply`: retries included)."""
    from worker import tasks

    monkeypatch.setattr(tasks, "_database", lambda: isolated.database)
    monkeypatch.setattr(tasks.make_film, "apply_async", lambda *args, **kwargs: None)  # nothing leaves the test
    return tasks


def test_a_film_that_fails_leaves_the_job_done_with_its_stills_and_says_why(
    isolated, astronaut_jpeg, tasks, monkeypatch
):
    class BrokenPipeline:
        calls = 0

        def run(self, *args, **kwargs):
            BrokenPipeline.calls += 1
            raise RuntimeError("the encoder crashed")

    monkeypatch.setattr(tasks, "_pipeline", lambda: BrokenPipeline())
    job_id = _done_with_stills(isolated, astronaut_jpeg)
    for _attempt in range(tasks.MAX_ATTEMPTS):  # each failed attempt hands the film back, then it is given up
        tasks.make_film.apply(args=[job_id])
        if jobs.get_job(isolated.database, job_id).film_status == FilmStatus.failed:
            break
    job = jobs.get_job(isolated.database, job_id)
    assert BrokenPipeline.calls == tasks.MAX_ATTEMPTS == job.film_attempts
    assert job.status == JobStatus.done and job.film_status == FilmStatus.failed
    assert _files(isolated.database, job_id) == [("photo-age-040.jpg", b"the still")]  # the stills are kept

    with isolated.app.test_request_context():
        from service.api import job_view

        view = job_view(job)
    assert view["status"] == "done" and view["film"] == {
        "state": "failed",
        "progress": job.film_progress,
        "error": {"code": "internal_error", "message": "the film could not be made; the stills are kept"},
    }
    assert "lifespan" not in view["results"] and view["results"]["faces"] == [] and view["error"] is None
    tasks.make_film.apply(args=[job_id])  # a late redelivery finds the film given up and does nothing
    assert BrokenPipeline.calls == tasks.MAX_ATTEMPTS


def test_a_film_whose_photo_is_gone_fails_at_once_with_the_reason(isolated, astronaut_jpeg, tasks):
    from service.models import Upload

    job_id = _done_with_stills(isolated, astronaut_jpeg)
    with isolated.database.session() as session:
        session.execute(sa.delete(Upload).where(Upload.job_id == job_id))
    tasks.make_film.apply(args=[job_id])
    job = jobs.get_job(isolated.database, job_id)
    assert (job.status, job.film_status, job.film_attempts) == (JobStatus.done, FilmStatus.failed, 1)
    assert job.film_error["code"] == "upload_missing"


def test_a_film_is_made_only_once_the_stills_are_done_and_only_by_one_task(isolated, astronaut_jpeg):
    db = isolated.database
    job_id = jobs.accept_photo(db, isolated.settings, astronaut_jpeg, [40.0], "auto", animate=True).job_id
    assert films.start_film(db, job_id, "film-task") is None  # no stills yet
    jobs.start_attempt(db, job_id, "stills-task")
    jobs.store_results(db, job_id, DOCUMENT, [STILL])
    assert films.start_film(db, job_id, "film-task").film_attempts == 1
    assert films.start_film(db, job_id, "another-task") is None  # a second delivery leaves it to the first
    films.mark_film_progress(db, job_id, 0.5)
    film = [OutputFile("lifespan-photo.mp4", "lifespan-photo", None, None, "video/mp4", b"the film")]
    lifespan = {"ages": [0, 100], "frames_per_second": 10, "photo": "lifespan-photo.mp4", "faces": []}
    films.store_film(db, job_id, lifespan, film)
    job = jobs.get_job(db, job_id)
    assert (job.film_status, job.film_progress, job.result["lifespan"]) == (FilmStatus.done, 1.0, lifespan)
    assert _files(db, job_id) == [("photo-age-040.jpg", b"the still"), ("lifespan-photo.mp4", b"the film")]
    assert films.start_film(db, job_id, "film-task") is None  # made: nothing more to do


def test_a_job_that_fails_gives_its_film_up_too(isolated, astronaut_jpeg):
    db = isolated.database
    job_id = jobs.accept_photo(db, isolated.settings, astronaut_jpeg, [40.0], "auto", animate=True).job_id
    jobs.mark_failed(db, job_id, "no_face", "no face was found")
    job = jobs.get_job(db, job_id)
    assert job.film_status == FilmStatus.failed and job.film_error["code"] == "no_stills"


def test_serve_queues_again_a_film_its_dead_worker_was_making(isolated, astronaut_jpeg):
    """`faceage serve` hands back what its dead worker was running, the film part included (the embedded broker never
    hands a message out twice)."""
    from faceage_cli.serving import _hand_back_running_jobs

    db, settings = isolated.database, isolated.settings
    making, waiting = (_done_with_stills(isolated, astronaut_jpeg) for _ in range(2))
    films.start_film(db, making, "task-of-the-dead-worker")

    _hand_back_running_jobs(settings, db)

    film = jobs.get_job(db, making)
    assert (film.status, film.film_status, film.claimed_by) == (JobStatus.done, FilmStatus.pending, None)
    broker = sa.create_engine(f"sqlite:///{settings.data_dir}/broker.sqlite")
    with broker.connect() as connection:
        sent = [row[0] for row in connection.execute(sa.text("SELECT payload FROM kombu_message"))]
    broker.dispose()
    assert len(sent) == 1 and making in sent[0] and "worker.tasks.make_film" in sent[0]
    assert jobs.get_job(db, waiting).film_status == FilmStatus.pending  # its message waits in the broker still
    assert films.start_film(db, making, "task-of-the-next-worker").film_attempts == 2


def test_a_stills_delivery_that_finds_them_stored_sends_the_film_their_killed_task_never_sent(
    isolated, astronaut_jpeg, tasks, monkeypatch
):
    # The stills' task stored them and was killed before it sent the film's message; Celery hands the task out again.
    db = isolated.database
    left_behind, being_made = (_done_with_stills(isolated, astronaut_jpeg) for _ in range(2))
    films.start_film(db, being_made, "a-film-task")
    sent = []
    monkeypatch.setattr(tasks.make_film, "apply_async", lambda args, **kwargs: sent.append(args[0]))
    for job_id in (left_behind, being_made):
        tasks.age_photo.apply(args=[job_id])
    assert sent == [left_behind]  # the film already being made is left to its task
    assert jobs.get_job(db, left_behind).attempts == 1  # the stills are not made again


def test_the_sweep_finds_films_nobody_is_making(isolated, astronaut_jpeg):
    db = isolated.database
    stuck, lost, stills_running = (_done_with_stills(isolated, astronaut_jpeg) for _ in range(3))
    films.start_film(db, stuck, "task-of-a-dead-worker")
    with db.session() as session:  # a film waiting for its stills is the stills' business, not the film sweep's
        session.get(Job, stills_running).status = JobStatus.running
    find = lambda now: set(films.stalled_films(db, timedelta(minutes=11), timedelta(minutes=10), now=now))  # noqa: E731
    assert find(datetime.now(UTC)) == set()
    assert find(datetime.now(UTC) + timedelta(minutes=10, seconds=30)) == {lost}
    assert find(datetime.now(UTC) + timedelta(minutes=12)) == {stuck, lost}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """An empty database: SQLite, and PostgreSQL where one answers at 127.0.0.1:5432 (as in production)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/faceage.sqlite")
        yield database
        database.dispose()
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    name = f"faceage_test_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name}")
    database = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    yield database
    database.dispose()
    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def test_the_migration_gives_the_film_state_to_jobs_of_before(empty_database):
    """Jobs that asked for the film before 0009 made it with their stills: a done one has it, a waiting one gets it
    after its stills."""
    database = empty_database
    database.upgrade("0008")
    columns = ("id", "token_hash", "photo_sha256", "status", "stage", "progress", "gender", "attempts")
    table = sa.table(
        "jobs",
        *(sa.column(name) for name in columns),
        *(sa.column(name, sa.JSON) for name in ("ages", "options")),
        *(sa.column(name, sa.DateTime(timezone=True)) for name in ("created_at", "updated_at", "expires_at")),
    )
    now = datetime.now(UTC)
    with database.engine.begin() as connection:
        for job_id, status, options in [
            ("done", "done", {"animate": True}),
            ("queued", "queued", {"animate": True}),
            ("stills", "done", None),
            ("morph", "done", {"morph": {"age": 40}}),
        ]:
            values = dict(zip(columns, (job_id, "h", "s", status, status, 0.0, "auto", 0)))
            times = {"created_at": now, "updated_at": now, "expires_at": now + timedelta(days=1)}
            connection.execute(table.insert().values(**values, ages=[40], options=options, **times))
    database.upgrade()
    states = {job_id: jobs.get_job(database, job_id).film_status for job_id in ("done", "queued", "stills", "morph")}
    assert states == {"done": FilmStatus.done, "queued": FilmStatus.pending, "stills": None, "morph": None}
    from alembic import command

    from service.database import alembic_config

    command.downgrade(alembic_config(database.url), "0008")  # and down again
    with database.engine.connect() as connection:
        assert "film_status" not in {c["name"] for c in sa.inspect(connection).get_columns("jobs")}
