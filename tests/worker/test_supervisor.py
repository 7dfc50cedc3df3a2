"""The supervisor that keeps `faceage serve`'s worker running, on a stand-in process family (a shell that
starts a child of its own), so that restarts and stops are quick to see."""

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from worker.supervisor import Backoff, Supervisor

# A parent that starts a long-lived child (as Celery starts its pool and beat) and reports the child's pid.
FAMILY = [
    sys.executable,
    "-c",
    (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open(sys.argv[1], 'a').write(f'{child.pid}\\n')\n"
        "time.sleep(600)\n"
    ),
]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_backoff_doubles_to_its_longest_and_resets_after_a_stable_run():
    backoff = Backoff(first=1, longest=8, stable_s=100)
    assert [backoff.after_run(5) for _ in range(5)] == [1, 2, 4, 8, 8]
    assert backoff.after_run(150) == 1


def test_a_killed_worker_is_started_again_and_its_orphans_are_ended(tmp_path):
    children = tmp_path / "children"
    restarts = []
    supervisor = Supervisor(
        [*FAMILY, str(children)], backoff=Backoff(first=0.1), on_restart=lambda code, pause: restarts.append(code)
    ).start()
    try:
        _wait_for(lambda: children.exists() and len(children.read_text().split()) == 1)
        first_parent, first_child = supervisor.process.pid, int(children.read_text().split()[0])
        os.kill(first_parent, signal.SIGKILL)
        _wait_for(lambda: len(children.read_text().split()) == 2)
        assert restarts == [-signal.SIGKILL] and supervisor.restarts == 1
        assert supervisor.process.pid != first_parent and not _alive(first_parent)  # reaped, not a zombie
        _wait_for(lambda: not _alive(first_child))  # the orphan went with its parent
    finally:
        supervisor.stop(grace_s=5)


def test_stop_ends_the_whole_family_and_starts_nothing_again(tmp_path):
    children = tmp_path / "children"
    supervisor = Supervisor([*FAMILY, str(children)], backoff=Backoff(first=0.1)).start()
    _wait_for(lambda: children.exists() and children.read_text().strip())
    parent, child = supervisor.process.pid, int(children.read_text().split()[0])
    supervisor.stop(grace_s=5)
    assert not _alive(parent)
    _wait_for(lambda: not _alive(child), timeout=5)  # SIGKILL is delivered, not awaited
    time.sleep(0.5)
    assert supervisor.restarts == 0 and len(children.read_text().split()) == 1


# A stand-in for `faceage serve`: supervises a family whose parent watches for its supervisor, as the Celery
# worker does from worker_init, and reports the family's pids.
SERVE = (
    "import sys, time\n"
    "from worker.supervisor import Backoff, Supervisor\n"
    "family = [sys.executable, '-c', (\n"
    "    'import subprocess, sys, time\\n'\n"
    "    'from worker.supervisor import end_with_supervisor\\n'\n"
    '    \'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])\\n\'\n'
    "    'watching = end_with_supervisor(poll_s=0.1) is not None\\n'\n"
    '    \'open(sys.argv[1], "a").write(f"{child.pid} {watching}\\\\n")\\n\'\n'
    "    'time.sleep(600)\\n'\n"
    "), sys.argv[1]]\n"
    "supervisor = Supervisor(family, backoff=Backoff(first=0.1)).start()\n"
    "open(sys.argv[2], 'w').write(str(supervisor.process.pid))\n"
    "time.sleep(600)\n"
)


def test_a_supervised_family_ends_itself_when_its_supervisor_is_killed_outright(tmp_path):
    import subprocess

    children, parent_file = tmp_path / "children", tmp_path / "parent"
    serve = subprocess.Popen([sys.executable, "-c", SERVE, str(children), str(parent_file)])
    try:
        _wait_for(lambda: children.exists() and children.read_text().strip())
        child, watching = children.read_text().split()
        parent = int(parent_file.read_text())
        assert watching == "True"
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait()
        _wait_for(lambda: not _alive(parent) and not _alive(int(child)), timeout=5)
    finally:
        serve.kill()
        if parent_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(parent_file.read_text()), signal.SIGKILL)


def test_an_unsupervised_process_does_not_watch(monkeypatch):
    from worker.supervisor import SUPERVISOR_PID, end_with_supervisor

    monkeypatch.delenv(SUPERVISOR_PID, raising=False)
    assert end_with_supervisor() is None
