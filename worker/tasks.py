"""Tasks: ids in, database rows out. Each is safe to run twice (a redelivered task finds the job finished
and does nothing, or redoes it from the stored upload and replaces partial results)."""

from __future__ import annotations

import logging
from functools import lru_cache

from celery.exceptions import SoftTimeLimitExceeded

from preprocessing.errors import PhotoError
from service import jobs
from service.config import Settings
from service.database import Database
from worker.celery_app import celery_app

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def _settings() -> Settings:
    return celery_app.conf.faceage_settings


@lru_cache(maxsize=1)
def _database() -> Database:
    return Database(_settings().database_url)


@lru_cache(maxsize=1)
def _pipeline():
    """The detector, estimator and aging model, loaded once per worker process (CUDA when present)."""
    from aging_model.estimator import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
    from aging_model.inference import DEFAULT_MODEL_PATH, AgingModel
    from aging_model.pipeline import AgingPipeline, PipelineSettings

    settings = _settings()
    model = AgingModel.load(settings.model_path or DEFAULT_MODEL_PATH, device=settings.device)
    estimator = AgeGenderEstimator.load(settings.estimator_path or DEFAULT_ESTIMATOR_PATH, device=str(model.device))
    return AgingPipeline(model, settings=PipelineSettings(max_faces=settings.max_faces), estimator=estimator)


def warm_up() -> None:
    _database()
    _pipeline()


@celery_app.task(name="worker.tasks.age_photo", bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def age_photo(self, job_id: str) -> None:
    """Age the faces of one job's photo and store every result image in the database."""
    from aging_model.outputs import render_photo_result

    db = _database()
    job = jobs.start_attempt(db, job_id)
    if job is None:
        return  # deleted, or finished by an earlier delivery
    if job.attempts > MAX_ATTEMPTS:
        jobs.mark_failed(db, job_id, "worker_failed", "the job failed repeatedly on the workers; try again later")
        return
    content = jobs.upload_of(db, job_id)
    if content is None:
        jobs.mark_failed(db, job_id, "upload_missing", "the uploaded photo is gone (expired or deleted)")
        return
    try:
        pipeline = _pipeline()
        result = pipeline.run(
            content, ages=job.ages, gender=job.gender,
            on_stage=lambda stage, fraction: jobs.mark_stage(db, job_id, stage, fraction),
        )
        document, files = render_photo_result(result, job.item_name or "photo", pipeline.model.card)
    except PhotoError as error:
        jobs.mark_failed(db, job_id, error.code, error.message)
        return
    except SoftTimeLimitExceeded:
        jobs.mark_failed(db, job_id, "time_limit", "aging this photo took too long; try a smaller photo")
        return
    except Exception as error:  # a bug or a transient fault: retry with backoff, then give up with a reason
        log.exception("job %s failed on attempt %d", job_id, job.attempts)
        if job.attempts >= MAX_ATTEMPTS:
            jobs.mark_failed(db, job_id, "internal_error", "the job could not be completed; try again later")
            return
        raise self.retry(exc=error, countdown=2**job.attempts) from None
    jobs.store_results(db, job_id, document, files)


@celery_app.task(name="worker.tasks.requeue_stalled")
def requeue_stalled() -> int:
    """Hand jobs that no worker is visibly working on to the workers again (scheduled every minute).

    Redis redelivers a killed worker's task by itself; this also covers brokers that cannot (the embedded
    SQLite one) and messages lost with a broker. A job requeued while it still runs does no harm: the second
    delivery finds it finished and returns, and MAX_ATTEMPTS bounds a photo that kills its worker every time.
    """
    from datetime import timedelta

    settings = _settings()
    db = _database()
    stalled = jobs.stalled_jobs(
        db, running_for=timedelta(seconds=settings.task_time_limit_s + 60),
        queued_for=timedelta(seconds=settings.requeue_queued_after_s),
    )
    for job_id in stalled:
        log.warning("job %s stalled; handing it to the workers again", job_id)
        jobs.touch(db, job_id)
        age_photo.apply_async(args=[job_id])
    return len(stalled)


@celery_app.task(name="worker.tasks.delete_expired")
def delete_expired() -> int:
    """Delete uploads and results past their retention (scheduled every 10 minutes by beat)."""
    count = jobs.delete_expired(_database())
    if count:
        log.info("deleted %d expired job(s)", count)
    return count
