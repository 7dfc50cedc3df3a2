"""`faceage serve` as a service manager runs it: started, its worker killed and brought back, then stopped with
SIGTERM (one test, since each start loads the models); and `serve` itself killed outright, with a second `serve`
started beside it."""

import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from job_polling import get_json, wait_for_stage, wait_for_status
from PIL import Image

FACEAGE = str(Path(sys.executable).parent / "faceage")


def _descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _upload(base: str, jpeg: bytes, **fields: str) -> dict:
    boundary = "faceage-test-boundary"
    body = (
        (
            "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                for name, value in fields.items()
            )
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            )
        ).encode()
        + jpeg
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}/api/v1/jobs",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 202
        return json.loads(reply.read())


def _wait_for_film(url: str, *states: str, within_s: float = 60) -> dict:
    """The job once its film (made after its stills) is in one of `states`."""
    deadline = time.monotonic() + within_s
    while (state := get_json(url)[1])["film"]["state"] not in states and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state["film"]["state"] in states, state
    return state


def _attempts(database: Path, job_id: str) -> tuple[list[str], int, int]:
    """A job's result file names, its stills' attempts and its film's."""
    with sqlite3.connect(database) as connection:
        names = [name for (name,) in connection.execute("SELECT name FROM result_images WHERE job_id = ?", [job_id])]
        query = "SELECT attempts, film_attempts FROM jobs WHERE id = ?"
        attempts, film_attempts = connection.execute(query, [job_id]).fetchone()
    return names, attempts, film_attempts


def _busiest(pids: list[int], over_s: float = 0.5) -> int:
    """The process that, with its children, used the most CPU time over the next `over_s` (the pool process aging
    a photo)."""

    def cpu(pid: int) -> int:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])  # utime + stime

    def with_children(pid: int) -> int:  # an encoder it started counts as its own
        return sum(cpu(p) for p in (pid, *_descendants(pid)))

    before = {pid: with_children(pid) for pid in pids}
    time.sleep(over_s)
    return max(pids, key=lambda pid: with_children(pid) - before[pid])


def test_a_killed_worker_is_started_again_its_jobs_get_done_healthz_tells_the_truth_and_sigterm_ends_all(
    tmp_path, astronaut
):
    env = {
        **os.environ,
        "FACEAGE_DATA_DIR": str(tmp_path / "data"),
        "FACEAGE_DEVICE": "cpu",
        "FACEAGE_WORKER_HEARTBEAT_S": "1",
    }
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        serve = subprocess.Popen([FACEAGE, "serve", "--port", "0"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not (address := re.search(r"http://[\d.]+:\d+", log.read_text())) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert address, log.read_text()[-2000:]
        base = address.group(0)
        # The address is given once the worker has loaded its models: healthy at once.
        status, health = get_json(f"{base}/healthz")
        assert status == 200 and health["workers_ready"] == 1, health

        jpeg, large = io.BytesIO(), io.BytesIO()
        Image.fromarray(astronaut).save(jpeg, "JPEG")
        Image.fromarray(astronaut).resize((1024, 1024)).save(large, "JPEG")  # with 20 ages, stills of seconds
        [worker] = _children(serve.pid)

        # A pool process killed while it ages a photo's stills: Celery hands its task back to the queue (acks_late,
        # reject_on_worker_lost) and a new pool process does it; the film, asked for, is made after it.
        pooled = _upload(base, large.getvalue(), ages=",".join(str(a) for a in range(5, 101, 5)), animate="true")
        pooled_url = f"{base}/api/v1/jobs/{pooled['id']}?token={pooled['token']}"
        # Killed while its faces are aged: the stills of 20 ages take a second or two from there (encoding them
        # most of it), so the kill lands before they are stored, not after (the film's sending is tested apart).
        wait_for_stage(pooled_url, "aging")
        busiest = _busiest(_children(worker), over_s=0.2)
        os.kill(busiest, signal.SIGKILL)
        pool_killed_at = time.monotonic()
        state = wait_for_status(pooled_url, "done", "failed", within_s=120)
        pool_recovery_s = time.monotonic() - pool_killed_at
        assert state["status"] == "done" and pool_recovery_s < 60, (state, pool_recovery_s)
        assert worker in _children(serve.pid)  # the worker itself lived on
        assert _wait_for_film(pooled_url, "done", "failed", within_s=120)["film"]["state"] == "done"

        # One job whose film is being made when the worker is killed (the embedded broker never hands its message
        # out again: serve queues the film again), one sent while no worker is there.
        running = _upload(base, jpeg.getvalue(), ages="40", animate="true")
        running_url = f"{base}/api/v1/jobs/{running['id']}?token={running['token']}"
        assert _wait_for_film(running_url, "running")["status"] == "done"  # the stills are out already

        family = _descendants(worker)
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        job = _upload(base, jpeg.getvalue())

        seen_down = None
        while time.monotonic() - killed_at < 60 and seen_down is None:
            status, health = get_json(f"{base}/healthz")
            if status == 503:
                seen_down, down_after_s = health, time.monotonic() - killed_at
            time.sleep(0.2)
        assert seen_down and seen_down["status"] in ("no_worker", "starting"), seen_down
        assert seen_down["queued_jobs"] == 1 and seen_down["oldest_queued_s"] is not None  # the film's job is done

        back_at = None
        while time.monotonic() - killed_at < 240:
            if back_at is None and get_json(f"{base}/healthz")[0] == 200:
                back_at = time.monotonic()
            states = [get_json(f"{base}/api/v1/jobs/{j['id']}?token={j['token']}")[1] for j in (running, job)]
            if states[0]["film"]["state"] in ("done", "failed") and states[1]["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        recovery_s = time.monotonic() - killed_at
        assert [states[0]["film"]["state"], states[1]["status"]] == ["done", "done"], states
        assert back_at is not None and recovery_s - (back_at - killed_at) < 60, "not done within 60 s of the worker"
        # Each result written once: one attempt after the kill (of the stills, or of the film), one row per file name.
        database = tmp_path / "data" / "faceage.sqlite"
        for killed, attempts in ((pooled, (2, 1)), (running, (1, 2))):
            names, *made = _attempts(database, killed["id"])
            assert names and len(names) == len(set(names)) and tuple(made) == attempts, (names, made)
            assert "lifespan-photo.mp4" in names
        assert "queued again" in log.read_text()
        assert get_json(f"{base}/healthz")[0] == 200
        assert not [pid for pid in family if _alive(pid)], "the killed worker's pool or beat is still running"
        assert not _alive(worker)  # reaped
        assert "starting it again" in log.read_text()
        print(f"pool process killed during a job: the job done {pool_recovery_s:.1f} s after")
        print(
            f"worker killed: /healthz 503 after {down_after_s:.1f} s (heartbeat 1 s), "
            f"the running and the queued job done after {recovery_s:.1f} s, "
            f"{recovery_s - (back_at - killed_at):.1f} s after /healthz said 200 again"
        )

        # Then a service manager stops it: SIGTERM ends the web app, the restarted worker, its pool and beat.
        family = _descendants(serve.pid)
        assert family, "the restarted worker is not running"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=90) == 0
        leftover = [pid for pid in family if _alive(pid)]
        assert not leftover, f"still running after serve stopped: {leftover}"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def _process_group(pgid: int) -> set[int]:
    """Every living process of this process group, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else []
        except OSError:
            continue
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _holds(pid: int, path: Path) -> bool:
    folder = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in folder.iterdir())
    except OSError:
        return False


def _start_serve(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """`faceage serve` and its address, given once its worker is ready."""
    with open(log, "w") as output:
        serve = subprocess.Popen([FACEAGE, "serve", "--port", "0"], env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not (address := re.search(r"http://[\d.]+:\d+", log.read_text())) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert address, log.read_text()[-2000:]
    return serve, address.group(0)


def test_a_killed_serve_takes_its_worker_along_and_no_second_serve_runs_beside_it(tmp_path, astronaut):
    import fcntl

    data = tmp_path / "data"
    env = {**os.environ, "FACEAGE_DATA_DIR": str(data), "FACEAGE_DEVICE": "cpu"}
    serve, base = _start_serve(env, tmp_path / "serve.log")
    worker = next_serve = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (worker and len(_process_group(worker)) >= 2):
            worker = next(iter(_children(serve.pid)), None)  # the worker, then its pool and beat
            time.sleep(0.2)
        assert worker and len(_process_group(worker)) >= 2, "the worker did not start its pool"
        assert _holds(worker, (data / "serve.lock").resolve())  # the lock lives as long as the worker does

        second = subprocess.run([FACEAGE, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode != 0 and "still running" in second.stderr, second.stderr

        # A film being made when serve is killed (its job done with its stills): the next serve queues the film again
        # when it starts.
        jpeg = io.BytesIO()
        Image.fromarray(astronaut).save(jpeg, "JPEG")
        job = _upload(base, jpeg.getvalue(), ages="40", animate="true")
        _wait_for_film(f"{base}/api/v1/jobs/{job['id']}?token={job['token']}", "running")
        family = _process_group(worker)
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait()
        killed_at = time.monotonic()
        while _process_group(worker) and time.monotonic() - killed_at < 20:
            time.sleep(0.1)
        ended_s = time.monotonic() - killed_at
        assert not _process_group(worker), f"still running 20 s after serve was killed: {_process_group(worker)}"
        with open(data / "serve.lock") as lock:  # free again: the next serve may start
            # A killed process's main thread shows as a zombie while its other threads (a busy pool process has
            # many) still close its files: the lock is free a moment after the group looks gone.
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    assert time.monotonic() - killed_at < 20, "the lock is still held 20 s after serve was killed"
                    time.sleep(0.05)
            freed_s = time.monotonic() - killed_at
        print(
            f"serve killed: its worker and {len(family) - 1} other process(es) ended {ended_s:.1f} s after, "
            f"the lock free {freed_s:.1f} s after"
        )

        next_serve, base = _start_serve(env, tmp_path / "next-serve.log")
        back_at = time.monotonic()
        state = _wait_for_film(f"{base}/api/v1/jobs/{job['id']}?token={job['token']}", "done", "failed")
        done_s = time.monotonic() - back_at
        assert (state["status"], state["film"]["state"]) == ("done", "done") and done_s < 60, (state, done_s)
        # Who queued it again is a race, and both are right: the next serve as it starts ("1 film(s) interrupted"),
        # or the dying worker itself, whose main process can see its pool process end (WorkerLostError) and requeue
        # the task a moment before the parent-death watch ends it. Either way the film was made twice and written
        # once, and the stills were made once.
        names, attempts, film_attempts = _attempts(data / "faceage.sqlite", job["id"])
        assert names and len(names) == len(set(names)) and (attempts, film_attempts) == (1, 2), (names, attempts)
        print(f"serve killed during a film: the film done {done_s:.1f} s after the next serve gave its address")
        next_serve.send_signal(signal.SIGTERM)
        assert next_serve.wait(timeout=90) == 0
    finally:
        for process in (serve, next_serve):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        if worker:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker, signal.SIGKILL)
