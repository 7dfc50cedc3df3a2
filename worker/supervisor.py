"""Keep one worker process running for `faceage serve`: start it in its own process group, start it again
with growing pauses when it dies, and stop it and everything it started when asked.

A Celery worker with embedded beat is a family (the worker, its pool processes, beat); when the worker is
killed outright its children are orphaned, so both the restart and the stop end the whole group.

When the supervisor itself is killed outright (`kill -9` of `faceage serve`), nobody is left to stop the worker:
the worker is told its supervisor's pid (FACEAGE_SUPERVISOR_PID), and `end_with_supervisor` in the worker ends
its whole group within a second of being orphaned.
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
SUPERVISOR_PID = "FACEAGE_SUPERVISOR_PID"


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
        pass_fds: Sequence[int] = (),
    ):
        """`pass_fds` stay open in the worker (a lock that must be held as long as any process of it lives)."""
        self.argv, self.pass_fds = list(argv), tuple(pass_fds)
        self.env = {**(os.environ if env is None else env), SUPERVISOR_PID: str(os.getpid())}
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
            self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True, pass_fds=self.pass_fds)
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


def end_with_supervisor(poll_s: float = 1.0) -> threading.Thread | None:
    """In a supervised worker: a thread that ends the worker's whole group (pool, beat) once the supervisor named
    in FACEAGE_SUPERVISOR_PID is no longer its parent, i.e. was killed outright. A job it was running is then
    queued again by the next `faceage serve` when it starts (or by the stalled-job sweep). Does nothing (None)
    when not supervised, or when not leading its own process group (it would end processes not its own)."""
    supervisor = int(os.environ.get(SUPERVISOR_PID) or 0)
    if not supervisor or os.getpgrp() != os.getpid():
        return None

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(poll_s)
        log.error("faceage serve (pid %d) is gone; this worker and its processes stop with it", supervisor)
        _kill_group(os.getpgrp())

    thread = threading.Thread(target=watch, name="end-with-supervisor", daemon=True)
    thread.start()
    return thread
