"""Keep one worker process running for `faceage serve`: start it in its own process group, start it again
with growing pauses when it dies, and stop it and everything it started when asked.

A Celery worker with embedded beat is a family (the worker, its pool processes, beat); when the worker is
killed outright its children are orphaned, so both the restart and the stop end the whole group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

log = logging.getLogger(__name__)


class Backoff:
    """Pauses before restarts: `first`, doubling to `longest`; back to `first` after a run of `stable_s`."""

    def __init__(self, first: float = 1.0, longest: float = 60.0, stable_s: float = 120.0):
        self.first, self.longest, self.stable_s = first, longest, stable_s
        self._next = first

    def after_run(self, ran_for_s: float) -> float:
        if ran_for_s >= self.stable_s:
            self._next = self.first
        pause, self._next = self._next, min(self._next * 2, self.longest)
        return pause


class Supervisor:
    """Runs `argv` and restarts it whenever it exits while not being stopped."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict | None = None,
        backoff: Backoff | None = None,
        on_restart: Callable[[int, float], None] | None = None,
    ):
        self.argv, self.env = list(argv), env
        self.backoff = backoff or Backoff()
        self.on_restart = on_restart or (lambda code, pause: None)
        self.restarts = 0
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self.started_at = datetime.now(UTC)
        self._launch()
        self._thread.start()
        return self

    def _launch(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # Its own session: our Ctrl+C reaches only us (we then stop it gracefully), and killpg reaches
            # every process it started, orphans included.
            self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
            self._started = time.monotonic()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            code = process.wait()  # also reaps it: no zombie
            if self._stopping.is_set():
                return
            _kill_group(process.pid)  # its orphans (pool processes, beat) would otherwise run on
            pause = self.backoff.after_run(time.monotonic() - self._started)
            log.warning("the worker exited with %s; starting it again in %.0f s", code, pause)
            self.on_restart(code, pause)
            if self._stopping.wait(pause):
                return
            self.restarts += 1
            self._launch()

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM (Celery's warm shutdown: the running job finishes, or goes back to the queue unacknowledged),
        then, after `grace_s` or once the worker is gone, SIGKILL to whatever of its group is left."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace_s)
        _kill_group(process.pid)
        process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
