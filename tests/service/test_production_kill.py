"""The production stack killed for real: gunicorn with two web processes, `faceage worker` (Celery) on PostgreSQL
(127.0.0.1:5432) and Redis (127.0.0.1:6379), skipped with the reason where they are not reachable. A fresh database
and Redis database 12 (flushed before and after) are used, so as not to meet test_production_stack.py's 11.

A pool process killed while it ages a photo, then the whole worker killed with a job running and one sent while
no worker is there: once a worker is back every job is done within 60 s, run the counted number of times, its
results written once; /healthz says 503 while no ready worker exists and 200 after. And the rate limit holds across
web processes (the limiter counts in Redis)."""

import contextlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from job_polling import get_json, wait_for_stage, wait_for_status
from PIL import Image
from production_support import migrated_production, scratch_postgres, scratch_redis

from service.database import Database

REDIS_URL = "redis://127.0.0.1:6379/12"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def postgres_url():
    with scratch_postgres("faceage_kill") as url:
        yield url


@pytest.fixture(scope="module")
def redis_url():
    with scratch_redis(REDIS_URL) as url:
        yield url


@pytest.fixture(scope="module")
def production(postgres_url, redis_url, tmp_path_factory):
    """The environment of a production deployment on this machine, its database migrated."""
    with migrated_production(
        postgres_url,
        redis_url,
        tmp_path_factory.mktemp("data"),
        FACEAGE_WORKER_HEARTBEAT_S="1",
        FACEAGE_SECRET_KEY=secrets.token_hex(16),
    ) as (env, database):
        yield env, database


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _gunicorn(env: dict, log: Path, workers: int = 2):
    """gunicorn as docker-compose.yml runs it (`workers` web processes, 4 threads each); yields its address."""
    port = _free_port()
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4"]
    with open(log, "w") as output:
        server = subprocess.Popen([*argv, "service.app:create_app()"], env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{base}/livez"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:  # refused, reset, or no answer yet while the web processes import the app
        return False


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    """`faceage worker` as the compose file's CPU worker runs it, in a session of its own (so that all of it,
    pool included, can be killed at once as a container or a machine dies)."""
    with open(log, "a") as output:
        return subprocess.Popen(
            [str(BIN / "faceage"), "worker", "--concurrency", "1", "--no-beat"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _post(url: str, jpeg: bytes | None = None, **fields: str) -> tuple[int, dict]:
    boundary = "faceage-test-boundary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ).encode()
    if jpeg is not None:
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode() + jpeg
    body = parts + (b"\r\n" if jpeg is not None else b"") + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    return get_json(request)


def _upload(base: str, jpeg: bytes, **fields: str) -> dict:
    status, body = _post(f"{base}/api/v1/jobs", jpeg, **fields)
    assert status == 202, body
    return {**body, "url": f"{base}/api/v1/jobs/{body['id']}?token={body['token']}"}


def _wait_for_health(base: str, status: int, within_s: float) -> float:
    """Seconds until /healthz answers `status`."""
    started = time.monotonic()
    while get_json(f"{base}/healthz")[0] != status:
        assert time.monotonic() - started < within_s, get_json(f"{base}/healthz")
        time.sleep(0.1)
    return time.monotonic() - started


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _busiest(pids: list[int], over_s: float = 0.5) -> int:
    """The process that, with its children, used the most CPU over the next `over_s` (the one aging a photo)."""

    def cpu(pid: int) -> int:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])

    def with_children(pid: int) -> int:
        return cpu(pid) + sum(with_children(child) for child in _children(pid))

    before = {pid: with_children(pid) for pid in pids}
    time.sleep(over_s)
    return max(pids, key=lambda pid: with_children(pid) - before[pid])


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _written(database: Database, job_id: str) -> tuple[list[str], int]:
    """The names of a job's result rows, and its attempts."""
    from sqlalchemy import text

    with database.engine.connect() as connection:
        names = [
            row[0]
            for row in connection.execute(text("SELECT name FROM result_images WHERE job_id = :id"), {"id": job_id})
        ]
        attempts = connection.execute(text("SELECT attempts FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one()
    return names, attempts


# A job long enough to be caught running: 20 ages of a 1024 px photo take seconds (the film, made after the stills
# since issue 18, no longer lengthens a job).
SLOW_AGES = ",".join(str(age) for age in range(5, 101, 5))


def _photos(astronaut) -> tuple[bytes, bytes]:
    """The astronaut as a JPEG, and enlarged to 1024 px."""
    small, large = io.BytesIO(), io.BytesIO()
    Image.fromarray(astronaut).save(small, "JPEG")
    Image.fromarray(astronaut).resize((1024, 1024)).save(large, "JPEG")
    return small.getvalue(), large.getvalue()


def test_a_killed_pool_process_and_a_killed_worker_lose_no_job_and_run_none_twice_over(production, astronaut, tmp_path):
    env, database = production
    photo, slow_photo = _photos(astronaut)
    worker_log = tmp_path / "worker.log"
    worker = _start_worker(env, worker_log)
    next_worker = None
    try:
        with _gunicorn(env, tmp_path / "gunicorn.log") as (base, server):
            assert len(_children(server.pid)) == 2, "gunicorn did not start two web processes"
            assert get_json(f"{base}/healthz")[0] == 503  # the worker is loading its models
            ready_s = _wait_for_health(base, 200, within_s=300)
            print(f"\nthe worker ready after {ready_s:.1f} s")

            # A pool process killed while it ages a photo: the worker sees it lost (reject_on_worker_lost) and
            # Redis hands the task to the new pool process at once.
            # Killed once its faces are being aged: from there its stills take a second or two (encoding them most of
            # it), so the kill lands before they are stored, not after.
            pooled = _upload(base, slow_photo, ages=SLOW_AGES)
            wait_for_stage(pooled["url"], "aging", within_s=120)
            os.kill(_busiest(_children(worker.pid), over_s=0.2), signal.SIGKILL)
            pool_killed_at = time.monotonic()
            state = wait_for_status(pooled["url"], "done", "failed", within_s=180)
            pool_recovery_s = time.monotonic() - pool_killed_at
            assert state["status"] == "done" and pool_recovery_s < 60, (state, pool_recovery_s)
            assert worker.poll() is None  # the worker itself lived on

            # The whole worker killed with a job running (Redis would hand its message out again only after the
            # visibility timeout, 11 minutes), and a job sent while no worker is there.
            running = _upload(base, slow_photo, ages=SLOW_AGES)
            wait_for_status(running["url"], "running", within_s=120)
            _kill_group(worker)
            killed_at = time.monotonic()
            queued = _upload(base, photo, ages="30")
            down_after_s = _wait_for_health(base, 503, within_s=30)  # three heartbeats of 1 s
            status, health = get_json(f"{base}/healthz")
            assert status == 503 and health["status"] == "no_worker" and health["queued_jobs"] == 1, health
            assert get_json(running["url"])[1]["status"] == "running"  # nobody has given it back yet

            next_worker = _start_worker(env, worker_log)
            _wait_for_health(base, 200, within_s=300)
            back_at = time.monotonic()
            states = [wait_for_status(job["url"], "done", "failed", within_s=120) for job in (running, queued)]
            done_s = time.monotonic() - back_at
            assert [s["status"] for s in states] == ["done", "done"], states
            assert done_s < 60, f"done {done_s:.1f} s after a worker was back"
            assert "was running on a worker that is gone" in worker_log.read_text()

            # Each run counted, each result written once: the killed jobs ran twice, the queued one once.
            for job, expected_attempts in ((pooled, 2), (running, 2), (queued, 1)):
                names, attempts = _written(database, job["id"])
                assert names and len(names) == len(set(names)), names
                assert attempts == expected_attempts, (job["id"], attempts)
            assert get_json(f"{base}/healthz")[0] == 200
            print(f"pool process killed during a job: the job done {pool_recovery_s:.1f} s after")
            print(
                f"worker killed: /healthz 503 after {down_after_s:.1f} s (heartbeat 1 s); the running and the "
                f"queued job done {done_s:.1f} s after /healthz said 200 again "
                f"({time.monotonic() - killed_at:.1f} s after the kill)"
            )
    finally:
        for process in (worker, next_worker):
            if process is not None:
                _kill_group(process)


def _count_until_refused(bases: list[str], tries: int) -> list[int]:
    """POST to the job route `tries` times, taking the web processes in turn; the statuses. An empty form is
    refused (400) after the limiter counted it, so nothing is queued."""
    return [_post(f"{bases[i % len(bases)]}/api/v1/jobs")[0] for i in range(tries)]


def test_the_rate_limit_holds_across_web_processes(production, tmp_path):
    """Two gunicorns of one web process each: the limit of 4 requests a minute is hit at the fifth, taking them
    in turn, since the limiter counts in Redis; each process counting for itself would let all five through."""
    env, _database = production
    limited = {**env, "FACEAGE_RATE_LIMIT": "4/minute"}
    with (
        _gunicorn(limited, tmp_path / "a.log", workers=1) as (a, _),
        _gunicorn(limited, tmp_path / "b.log", 1) as (b, _),
    ):
        assert _count_until_refused([a, b], 5) == [400, 400, 400, 400, 429]
    apart = {**limited, "FACEAGE_RATE_LIMIT_STORAGE": "memory://"}
    with _gunicorn(apart, tmp_path / "c.log", workers=1) as (c, _), _gunicorn(apart, tmp_path / "d.log", 1) as (d, _):
        assert 429 not in _count_until_refused([c, d], 5)  # the contrast: 3 and 2, each under its own 4


def _running_on(database: Database, job_id: str) -> tuple[str, str | None]:
    """A job's status and the worker recorded as running it."""
    from sqlalchemy import text

    with database.engine.connect() as connection:
        status, worker = connection.execute(
            text("SELECT status, worker FROM jobs WHERE id = :id"), {"id": job_id}
        ).one()
    return status, worker


def test_a_worker_killed_beside_a_live_one_has_its_job_taken_over_and_the_live_one_keeps_its_own(
    production, astronaut, tmp_path
):
    """Two workers, each aging a photo; one is killed outright. The other hands its job back once its heartbeat is
    gone (three beats of 1 s) and ages it after its own, which nobody took from it."""
    env, database = production
    _, slow_photo = _photos(astronaut)
    logs = {name: tmp_path / f"worker-{name}.log" for name in "ab"}
    started = {name: _start_worker(env, log) for name, log in logs.items()}
    try:
        with _gunicorn(env, tmp_path / "gunicorn.log") as (base, _server):
            deadline = time.monotonic() + 300
            while get_json(f"{base}/healthz")[1]["workers_ready"] < 2:
                assert time.monotonic() < deadline, get_json(f"{base}/healthz")
                time.sleep(0.2)
            first, second = (_upload(base, slow_photo, ages=SLOW_AGES) for _ in range(2))
            for job in (first, second):
                wait_for_status(job["url"], "running", within_s=120)
            owners = {job["id"]: _running_on(database, job["id"])[1] for job in (first, second)}
            assert len(set(owners.values())) == 2, owners  # one job on each worker
            by_pid = {str(process.pid): name for name, process in started.items()}
            killed = by_pid[owners[first["id"]].rsplit(":", 1)[1]]
            survivor = "b" if killed == "a" else "a"
            _kill_group(started[killed])
            killed_at = time.monotonic()
            while _running_on(database, first["id"]) == ("running", owners[first["id"]]):
                assert time.monotonic() - killed_at < 30, "the killed worker's job was never handed back"
                time.sleep(0.05)
            handed_back_s = time.monotonic() - killed_at
            # Three missed beats and the survivor's next one, with room for a loaded machine (Redis alone: 660 s).
            assert handed_back_s < 10, handed_back_s
            for job in (first, second):
                assert wait_for_status(job["url"], "done", "failed", within_s=180)["status"] == "done"
            done_s = time.monotonic() - killed_at
            for job, expected_attempts in ((first, 2), (second, 1)):  # the live worker's job was left alone
                names, attempts = _written(database, job["id"])
                assert names and len(names) == len(set(names)) and attempts == expected_attempts, (names, attempts)
            assert "was running on a worker that is gone" in logs[survivor].read_text()
            print(
                f"\none of two workers killed: its job handed back {handed_back_s:.1f} s after (heartbeat 1 s), "
                f"both jobs done {done_s:.1f} s after"
            )
    finally:
        for process in started.values():
            _kill_group(process)
