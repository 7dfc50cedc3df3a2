"""The lifespan film of a job, made after its stills by a task of its own: its state (pending, running, done,
failed), progress and attempts in the job's `film_*` columns, and the hand-back of films nobody is making.
Like service.jobs, it knows nothing of Flask or Celery: it takes a `Database` and plain values.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from service import jobs
from service.database import Database
from service.models import FilmStatus, Job, JobStatus, ResultImage, utcnow


def film_to_make(job: Job) -> bool:
    """Whether the job's film is still to be made (asked for, and neither done nor given up)."""
    return job.film_status in (FilmStatus.pending, FilmStatus.running)


def film_left_behind(db: Database, job_id: str) -> bool:
    """Whether a job's stills are done and its film is pending with no task on it: the stills' task stored them and
    died before it sent the film's message (or the message was lost). Sending it again is safe: `start_film` lets
    one task make it."""
    job = jobs.get_job(db, job_id)
    return job is not None and job.status == JobStatus.done and job.film_status == FilmStatus.pending


def start_film(db: Database, job_id: str, task_id: str | None = None) -> Job | None:
    """Count a film attempt by task `task_id`; returns the job, or None when there is nothing to do: it is gone,
    its stills are not done, its film is made or given up, or another task is making it."""
    with db.session() as session:
        job = session.get(Job, job_id, with_for_update=True)  # two deliveries at once: one waits (PostgreSQL)
        if job is None or job.status != JobStatus.done or not film_to_make(job):
            return None
        if job.film_status == FilmStatus.running and job.claimed_by not in (None, task_id):
            return None
        job.film_attempts += 1
        job.film_status, job.film_progress, job.claimed_by = FilmStatus.running, 0.0, task_id
        return job


def mark_film_progress(db: Database, job_id: str, progress: float) -> None:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is not None and job.film_status == FilmStatus.running:
            job.film_progress = round(progress, 3)


def store_film(db: Database, job_id: str, lifespan: dict, files) -> None:
    """Add the film's files to the job's results (replacing an earlier attempt's) and mark the film done."""
    film_kinds = ("lifespan", "lifespan-photo")
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.result is None:
            return
        session.execute(delete(ResultImage).where(ResultImage.job_id == job_id, ResultImage.kind.in_(film_kinds)))
        jobs.add_result_images(session, job_id, files)
        result = copy.deepcopy(job.result)  # a new value: the JSON column sees a replacement, not an edit
        result["lifespan"] = lifespan
        animated = {item["face"]: {"mp4": item["mp4"], "gif": item["gif"]} for item in lifespan["faces"]}
        for face in result["faces"]:
            if face["face"] in animated and "files" in face:
                face["files"]["lifespan"] = animated[face["face"]]
        job.result = result
        job.film_status, job.film_progress, job.film_error, job.claimed_by = FilmStatus.done, 1.0, None, None


def mark_film_failed(db: Database, job_id: str, code: str, message: str) -> None:
    """Give up the film; the job stays done with its stills."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is not None and job.film_status is not None:
            job.film_status, job.claimed_by = FilmStatus.failed, None
            job.film_error = {"code": code, "message": message}


def requeue_film(db: Database, job_id: str) -> None:
    """Hand a film to the workers again: pending, claimed by nobody, looked after as of now."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is not None and film_to_make(job):
            job.film_status, job.claimed_by, job.updated_at = FilmStatus.pending, None, utcnow()


def stalled_films(
    db: Database, running_for: timedelta, queued_for: timedelta, now: datetime | None = None
) -> list[str]:
    """Films of finished jobs that no worker is visibly making: running without progress for `running_for`, or
    pending for `queued_for` (the message sent once the stills were stored was lost, or never sent)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        query = select(Job.id).where(
            (Job.status == JobStatus.done)
            & (
                ((Job.film_status == FilmStatus.running) & (Job.updated_at < now - running_for))
                | ((Job.film_status == FilmStatus.pending) & (Job.updated_at < now - queued_for))
            )
        )
        return list(session.scalars(query))


def requeue_running_films(db: Database) -> list[str]:
    """Hand every film being made to the workers again; returns their jobs' ids. For the same callers, and on the
    same grounds, as `requeue_running`."""
    with db.session() as session:
        query = select(Job).where(Job.status == JobStatus.done, Job.film_status == FilmStatus.running)
        running = list(session.scalars(query))
        for job in running:
            job.film_status, job.claimed_by, job.updated_at = FilmStatus.pending, None, utcnow()
        return [job.id for job in running]
