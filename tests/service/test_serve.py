"""`faceage serve` as a service manager runs it: started, then stopped with SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_sigterm_stops_the_web_app_and_its_worker_and_exits_0(tmp_path):
    env = {**os.environ, "FACEAGE_DATA_DIR": str(tmp_path / "data"), "FACEAGE_DEVICE": "cpu"}
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        serve = subprocess.Popen([FACEAGE, "serve", "--port", "0"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "Faceage is running" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "Faceage is running" in log.read_text(), log.read_text()[-2000:]
        while len(_descendants(serve.pid)) < 2 and time.monotonic() < deadline:  # the worker and its pool
            time.sleep(0.5)
        children = _descendants(serve.pid)
        assert children, "the worker did not start"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=90) == 0
        leftover = [pid for pid in children if _alive(pid)]
        assert not leftover, f"still running after serve stopped: {leftover}"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
