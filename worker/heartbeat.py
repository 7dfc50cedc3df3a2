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
_database = None  # the heartbeat's own, in the main process: never shared with what pool processes use
# The main process forks new pool processes while this thread runs. A fork taken in the middle of a beat
# would copy a connection pool's or a driver's lock held by this thread into the child, where nobody ever
# releases it (the new pool process then hangs on its first query). So a fork waits for the beat to finish.
_beating = threading.Lock()


def _reset_in_child() -> None:
    global _beating, _database
    _beating, _database = threading.Lock(), None


os.register_at_fork(
    before=lambda: _beating.acquire(), after_in_parent=lambda: _beating.release(), after_in_child=_reset_in_child
)


def _heartbeat_database():
    global _database
    if _database is None:
        from service.database import Database

        _database = Database(_settings().database_url)
    return _database


def _settings():
    """The worker's settings, from the Celery app this process runs (no import of the app: it imports us)."""
    from celery import current_app

    return current_app.conf.faceage_settings


def _interval_s() -> float:
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


def worker_name() -> str | None:
    """This worker's name in the heartbeats (also in its pool processes); None outside a worker."""
    return _name


def _beat_until_stopped() -> None:
    from service import workers

    while True:
        try:
            with _beating:
                workers.beat(_heartbeat_database(), _name)
                _requeue_orphans()
        except Exception:  # the database may be away for a moment; the next beat tries again
            log.warning("could not record this worker's heartbeat", exc_info=True)
        if _stop.wait(_interval_s()):
            return


def _requeue_orphans() -> None:
    """After each beat: the jobs of workers whose heartbeat is gone (killed outright) go back to the queue, and
    their tasks are sent again (the broker would hand the old ones out only after its visibility timeout)."""
    from celery import current_app

    from service import workers

    orphans = workers.requeue_orphans(_heartbeat_database(), _interval_s())
    for job_id in orphans:
        log.warning("job %s was running on a worker that is gone; handing it to the workers again", job_id)
        current_app.send_task("worker.tasks.age_photo", args=[job_id], queue="faceage")


def mark_ready(database) -> None:
    """Called by a pool process after it loaded its models, with the process's own database."""
    from service import workers

    if _name is not None:
        workers.beat(database, _name, ready=True)


@worker_shutdown.connect
def _stop_beating(**_kwargs) -> None:
    from service import workers

    _stop.set()
    if _name is None:
        return
    try:
        with _beating:
            workers.forget(_heartbeat_database(), _name)
    except Exception:
        log.warning("could not remove this worker's heartbeat; it will go stale", exc_info=True)
