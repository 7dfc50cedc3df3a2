"""The Celery application, configured from the same Settings as the web app.

Reliability choices (a job accepted with 202 must end done or failed):
- acks_late + reject_on_worker_lost: a task is acknowledged only after it finished; if its worker dies
  (even SIGKILL) the broker hands it to another worker.
- prefetch 1: a worker does not hoard tasks that another could run.
- time limits: a stuck job is stopped and marked failed instead of holding a worker forever.
- no result backend: status and results live in our own database.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from service.config import Settings
from worker import heartbeat, supervisor
from worker.broker import prompt_broker_url


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    app = Celery("faceage", broker=prompt_broker_url(settings.broker_url), include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit_s + 30,
        task_soft_time_limit=settings.task_time_limit_s,
        task_default_queue="faceage",
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "delete-expired": {"task": "worker.tasks.delete_expired", "schedule": 600.0},
            "requeue-stalled": {"task": "worker.tasks.requeue_stalled", "schedule": 60.0},
            "delete-consumed-messages": {"task": "worker.tasks.delete_consumed_messages", "schedule": 300.0},
        },
        worker_hijack_root_logger=False,
        # Pool processes load the models before they report ready (see below); Celery's default 4 s wait
        # would kill them for it, again and again.
        worker_proc_alive_timeout=180,
    )
    if settings.broker_url.startswith(("redis://", "rediss://")):
        # A killed worker's unacknowledged task becomes visible to others after this many seconds; longer
        # than any job may run. Its job is handed back long before that by the other workers, or the next to
        # start, once its heartbeat is gone (worker.heartbeat). (The SQLite broker takes no such option.)
        app.conf.broker_transport_options = {"visibility_timeout": settings.task_time_limit_s + 60}
    app.conf.faceage_settings = settings
    return app


celery_app = create_celery()


_threads_per_process = 0  # set in the worker's main process before its pool forks; 0 leaves the libraries' own


@worker_init.connect
def _share_the_cores(sender=None, **_kwargs) -> None:
    """Pool processes share the machine's cores instead of each spinning up a thread per core: on 2 cores, two
    processes of one thread age a batch 1.8 times faster than one process of two threads, while two of two
    threads each are 2 times slower (measured with scripts/benchmark_service.py --concurrency)."""
    global _threads_per_process
    processes = getattr(sender, "concurrency", None) or 1
    _threads_per_process = max(1, (os.cpu_count() or 1) // processes)


@worker_init.connect
def _end_with_faceage_serve(**_kwargs) -> None:
    """A worker started by `faceage serve` ends, with its pool and beat, when `serve` is killed outright."""
    supervisor.end_with_supervisor()


@worker_process_init.connect
def _load_model_before_the_first_job(**_kwargs) -> None:
    """Load the models when a worker process starts, so the first photo is not slower than the rest."""
    from worker.tasks import _database, warm_up

    if _threads_per_process:
        import cv2
        import torch

        torch.set_num_threads(_threads_per_process)
        cv2.setNumThreads(_threads_per_process)

    # A pool process makes its own database engine: one inherited through fork would share its parent's
    # connections (and, with them, their locks).
    _database.cache_clear()
    warm_up()
    heartbeat.mark_ready(_database())
