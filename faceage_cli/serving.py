"""`faceage serve`, `worker`, `db`, `apikey`, `reviewer` and `batch`: run the service and talk to it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import click

from faceage_cli.common import EXIT_PHOTO_FAILED, fail, load_settings, redacted, service_database


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve the web app only (workers run elsewhere).")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Run Faceage on this machine: the web app and a Celery worker, with SQLite and no server to install."""
    from werkzeug.serving import make_server

    from service.app import create_app
    from service.database import Database

    settings = load_settings()
    lock = None if no_worker else _hold_serve_lock(Path(settings.data_dir))
    database = Database(settings.database_url)
    database.upgrade()
    # A service manager stops us with SIGTERM: end exactly as Ctrl+C does, taking the worker along.
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor = None
    try:
        if not no_worker:
            _hand_back_running_jobs(settings, database)  # a killed serve's worker left them running
            supervisor = _supervised_worker(settings, lock, database)
            _wait_until_ready(database, since=supervisor.started_at)
        server = make_server(host, port, create_app(settings), threaded=True)
        click.echo(f"Faceage is running: open http://{host}:{server.server_port}/ in your browser (Ctrl+C stops it)")
        try:
            server.serve_forever()
        finally:
            server.server_close()
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop(grace_s=60.0)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _hold_serve_lock(data_dir: Path) -> int:
    """An exclusive lock on `{data_dir}/serve.lock`, or exit with a message when another `serve`, or a worker it
    left behind, holds it. The worker inherits the lock's file descriptor (and its pool and beat from it), so the
    lock is free only once every process of the old `serve` is gone: two workers and two beats never share one
    data folder and schedule file."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        fail(
            f"another faceage serve (pid {holder}), or a worker it left behind, is still running on {data_dir}; "
            "stop it first (its worker ends by itself within seconds of its serve being killed)"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _supervised_worker(settings, lock: int, database):
    """The worker, started again (after 1 s, then 2, 4 ... up to a minute) whenever it dies; it holds `lock` too.
    The jobs it was running when it died go back to the queue at once, for the next worker to take."""
    from worker.supervisor import Supervisor

    def say(code, pause):
        click.echo(f"The worker stopped (exit status {code}); starting it again in {pause:.0f} s.", err=True)
        _hand_back_running_jobs(settings, database)

    argv = [sys.executable, *worker_argv(settings, concurrency=_one_per_core())]
    return Supervisor(argv, on_restart=say, pass_fds=[lock]).start()


def _hand_back_running_jobs(settings, database) -> None:
    """Queue again every job, and every film, recorded as running, when no worker of ours is running (before the
    first starts, and once one died, its whole group ended). The embedded broker never hands out a message twice,
    so a job (or film) its dead worker was running would otherwise wait for the stalled-job sweep (the task time
    limit + 60 s).
    Only with the embedded broker: its queue is a file of this data folder, and the serve lock keeps any other
    serve's worker off it, so a running job can only be ours. On Redis other workers may be running jobs; there the
    workers hand back the jobs of one whose heartbeat is gone (service.workers.requeue_orphans)."""
    from service import films, jobs
    from worker.broker import embedded_database_url
    from worker.celery_app import create_celery

    if embedded_database_url(settings.broker_url) is None:
        return
    try:
        job_ids, film_ids = jobs.requeue_running(database), films.requeue_running_films(database)
        if not job_ids and not film_ids:
            return
        celery = create_celery(settings)
        for job_id in job_ids:
            celery.send_task("worker.tasks.age_photo", args=[job_id], queue="faceage")
        for job_id in film_ids:
            celery.send_task("worker.tasks.make_film", args=[job_id], queue="faceage")
    except Exception as error:  # the stalled-job sweep still finds them
        click.echo(f"Could not hand the interrupted jobs to the worker again ({error}).", err=True)
        return
    if job_ids:
        click.echo(f"{len(job_ids)} job(s) interrupted by the worker's end queued again.", err=True)
    if film_ids:
        click.echo(f"{len(film_ids)} film(s) interrupted by the worker's end queued again.", err=True)


def _one_per_core(most: int = 4) -> int:
    """Worker processes for this machine: one per core (each with one thread), up to `most` (each process holds
    its own copy of the models: about 0.95 GB of resident memory once it has aged photos)."""

    return max(1, min(most, os.cpu_count() or 1))


def _wait_until_ready(database, since, timeout_s: float = 300.0) -> None:
    """Give the address only once a worker has loaded its models, so that the first photo is as fast as the rest."""

    from service import workers

    click.echo("Starting the worker (loading the models)...")
    deadline = time.monotonic() + timeout_s
    while not workers.ready_since(database, since):
        if time.monotonic() > deadline:
            click.echo(f"The worker is not ready after {timeout_s:.0f} s; serving anyway (see /healthz).", err=True)
            return
        time.sleep(0.2)


@click.command("worker")
@click.option("--concurrency", default=1, show_default=True, help="Worker processes (each loads the model once).")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run the scheduler of the periodic cleanup (one worker of a deployment is enough).",
)
def worker_command(concurrency: int, beat: bool) -> None:
    """Run a Celery worker for the aging queue, in the foreground."""

    os.execvp(sys.executable, [sys.executable, *worker_argv(load_settings(), concurrency, beat)])


def worker_argv(settings, concurrency: int = 1, beat: bool = True) -> list[str]:
    argv = [
        "-m",
        "celery",
        "-A",
        "worker.celery_app:celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--queues",
        "faceage",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        schedule = Path(settings.data_dir) / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", "--schedule", str(schedule)]
    return argv


@click.group()
def db() -> None:
    """The service's database (FACEAGE_DATABASE_URL; SQLite under FACEAGE_DATA_DIR by default)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (safe to run again)."""
    from service.database import Database

    settings = load_settings()
    database = Database(settings.database_url)
    database.upgrade()
    click.echo(f"database at the newest schema: {redacted(settings.database_url)}")


@click.group()
def apikey() -> None:
    """API keys for operators (Authorization: Bearer KEY)."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key called NAME; the key is printed once, alone on the last line, and stored only hashed."""
    from service.auth import create_api_key

    key = create_api_key(service_database(), name)
    click.echo(f"API key {name!r} created. Keep it now: it is not stored and cannot be shown again.")
    click.echo(key)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke every key called NAME: from the next request on it opens nothing (its jobs stay until they expire)."""
    from service.auth import revoke_api_keys

    count = revoke_api_keys(service_database(), name)
    if count == 0:
        fail(f"no API key called {name!r} is in use (none was ever created, or it is revoked already)")
    click.echo(f"revoked {count} API key(s) called {name!r}")


@click.group()
def reviewer() -> None:
    """Accounts for the dataset review page (/review)."""


@reviewer.command("create")
@click.argument("name")
def reviewer_create(name: str) -> None:
    """Create a reviewer called NAME; the password is printed once, alone on the last line, and stored only hashed."""
    from service.auth import create_reviewer

    try:
        password = create_reviewer(service_database(), name)
    except ValueError as error:
        fail(str(error))
    click.echo(
        f"Reviewer {name.strip()!r} created; sign in at /review/login. "
        "Keep the password now: it is not stored and cannot be shown again."
    )
    click.echo(password)


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--server", required=True, help="The Faceage server, e.g. http://127.0.0.1:8000")
@click.option(
    "--api-key", required=True, envvar="FACEAGE_API_KEY", help="An API key (faceage apikey create); or FACEAGE_API_KEY."
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Results, in the folder's own tree."
)
@click.option("--ages", default=None, help="Target ages, comma separated (the server's default when left out).")
@click.option("--gender", type=click.Choice(["auto", "male", "female"]), default="auto", show_default=True)
@click.option(
    "--concurrency", default=4, show_default=True, type=click.IntRange(1, 32), help="Photos in flight at once."
)
def batch(folder, server, api_key, out_dir, ages, gender, concurrency) -> None:
    """Age every photo in FOLDER through a Faceage server; run again to resume."""
    from tqdm import tqdm

    from service.batch_client import BatchClient

    client = BatchClient(server, api_key, out_dir, ages=ages, gender=gender)
    photos = client.photos(folder)
    if not photos:
        fail(f"no photos in {folder} (looked for {', '.join(sorted({'.jpg', '.png', '.heic', '.webp'}))}...)")
    with tqdm(total=len(photos), unit="photo", desc="aging", file=sys.stderr) as bar:
        outcomes = client.run(folder, concurrency=concurrency, progress=lambda outcome: bar.update(1))
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    click.echo(f"{counts['done']} aged, {counts['skipped']} already done, {counts['failed']} failed -> {out_dir}")
    for outcome in failed:
        click.echo(f"failed: {outcome.path}: {outcome.message}", err=True)
    if failed:
        sys.exit(EXIT_PHOTO_FAILED)
