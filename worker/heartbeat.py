"""A worker's heartbeat in the shared database (service.workers): the main process refreshes it while it
consumes the queue, a pool process marks it ready once its models are loaded, a clean stop removes it."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_init, worker_ready, worker_shutdown

log = logging.getLogger(__name__)

_name: str | None = None  # set in the main process before the pool forks, so pool processes inherit it
_stop = threading.Event()


def _database():
    from worker.tasks import _database

    return _database()


def _interval_s() -> float:
    from worker.tasks import _settings

    return _settings().worker_heartbeat_s


@worker_init.connect
def _name_this_worker(sender=None, **_kwargs) -> None:
    global _name
    _name = f"{getattr(sender, 'hostname', None) or 'worker'}:{os.getpid()}"


@worker_ready.connect
def _start_beating(**_kwargs) -> None:
    if _name is None:
        return
    _stop.clear()
    threading.Thread(target=_beat_until_stopped, name="faceage-heartbeat", daemon=True).start()


def _beat_until_stopped() -> None:
    from service import workers

    while True:
        try:
            workers.beat(_database(), _name)
        except Exception:  # the database may be away for a moment; the next beat tries again
            log.warning("could not record this worker's heartbeat", exc_info=True)
        if _stop.wait(_interval_s()):
            return


def mark_ready() -> None:
    """Called by a pool process after it loaded its models."""
    from service import workers

    if _name is not None:
        workers.beat(_database(), _name, ready=True)


@worker_shutdown.connect
def _stop_beating(**_kwargs) -> None:
    from service import workers

    _stop.set()
    if _name is None:
        return
    try:
        workers.forget(_database(), _name)
    except Exception:
        log.warning("could not remove this worker's heartbeat; it will go stale", exc_info=True)
