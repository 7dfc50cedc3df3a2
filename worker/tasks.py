"""Tasks: ids in, database rows out. Each is safe to run twice (a redelivered task finds the job finished
and does nothing, or redoes it from the stored upload and replaces partial results)."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache

from celery.exceptions import SoftTimeLimitExceeded

from preprocessing.errors import PhotoError
from service import batches, films, jobs
from service.config import Settings
from service.database import Database
from worker import broker, heartbeat
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
    from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel
    from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
    from aging_model.pipeline import AgingPipeline, PipelineSettings

    settings = _settings()
    model = AgingModel.load(settings.model_path or DEFAULT_MODEL_PATH, device=settings.device)
    estimator = AgeGenderEstimator.load(settings.estimator_path or DEFAULT_ESTIMATOR_PATH, device=str(model.device))
    pipeline_settings = PipelineSettings(max_faces=settings.max_faces, renderer=settings.renderer)
    return AgingPipeline(model, settings=pipeline_settings, estimator=estimator)


def warm_up() -> None:
    """Everything the first job would otherwise pay for: the database, the models, and one rehearsal."""
    _database()
    _rehearse(_pipeline())


def _rehearse(pipeline) -> None:
    """Age one photo made of the prototypes' own mean face, start to end, results encoded: PyTorch, OpenCV
    and the encoders allocate and choose their kernels on their first call, which would otherwise be the
    first user's photo (measured 0.36 s against 0.16 s for the next ones)."""
    import cv2
    import numpy as np

    from aging_model.outputs import render_photo_result
    from aging_model.pipeline import PhotoRequest
    from aging_model.prototypes.age_prototypes import AgePrototypes

    face = AgePrototypes.load().textures[5, 0]  # 31-40, the middle of the range
    photo = np.full((640, 640, 3), 128, np.uint8)
    photo[120:520, 120:520] = cv2.resize(face, (400, 400), interpolation=cv2.INTER_CUBIC)
    _encoded, jpeg = cv2.imencode(".jpg", photo[:, :, ::-1])  # OpenCV writes BGR
    [outcome] = pipeline.run_many([PhotoRequest(jpeg.tobytes(), (5.0, 20.0, 40.0, 60.0, 80.0), "auto")])
    if not isinstance(outcome, PhotoError):
        render_photo_result(outcome, "rehearsal", pipeline.model.card)


@celery_app.task(name="worker.tasks.age_photo", bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def age_photo(self, job_id: str) -> None:
    """Age the faces of one job's photo and store every result image in the database.

    Where batching pays (a GPU), the task takes other queued jobs along, up to `jobs_per_model_call`, and
    ages all their faces in one model call; their own deliveries then find them taken or done.
    """
    db = _database()
    job = jobs.start_attempt(db, job_id, self.request.id, heartbeat.worker_name())
    if job is None:
        # Deleted, finished by an earlier delivery, or taken along by another task. An earlier delivery killed
        # between storing the stills and sending the film's message leaves the film pending: it is sent here, not
        # left to the stall sweep's much later look.
        if films.film_left_behind(db, job_id):
            make_film.apply_async(args=[job_id])
        return
    taken_along = (
        []
        if jobs.morph_age(job) is not None
        else jobs.claim_queued(db, self.request.id, _jobs_per_model_call() - 1, heartbeat.worker_name())
    )
    uploads = {j.id: _upload_to_age(db, j) for j in [job, *taken_along]}
    runnable = [j for j in [job, *taken_along] if uploads[j.id] is not None]
    if not runnable:
        return
    try:
        morphs = [j for j in runnable if jobs.morph_age(j) is not None]  # a morph taken along runs on its own
        for morph_job in morphs:
            _morph_job(db, morph_job, uploads[morph_job.id])
        if len(morphs) < len(runnable):
            _age_jobs(db, [j for j in runnable if j not in morphs], uploads)
    except SoftTimeLimitExceeded:
        for j in runnable:
            jobs.mark_failed(db, j.id, "time_limit", "aging this photo took too long; try a smaller photo")
    except Exception as error:  # a bug or a transient fault: retry with backoff, then give up with a reason
        log.exception("job %s failed on attempt %d", job_id, job.attempts)
        for other in runnable:
            if other.id != job_id:
                _try_again_later(db, other)
        if job.attempts >= MAX_ATTEMPTS:
            jobs.mark_failed(db, job_id, "internal_error", "the job could not be completed; try again later")
            return
        raise self.retry(exc=error, countdown=2**job.attempts) from None


def _jobs_per_model_call() -> int:
    """The setting, or by default 8 on a GPU and 1 on a CPU (where batching measured no faster)."""
    configured = _settings().jobs_per_model_call
    if configured > 0:
        return configured
    return 8 if _pipeline().model.device.type == "cuda" else 1


def _upload_to_age(db: Database, job) -> bytes | None:
    """The job's photo, or None after failing the job with the reason it cannot be aged."""
    if job.attempts > MAX_ATTEMPTS:
        jobs.mark_failed(db, job.id, "worker_failed", "the job failed repeatedly on the workers; try again later")
        return None
    content = jobs.upload_of(db, job.id)
    if content is None:
        jobs.mark_failed(db, job.id, "upload_missing", "the uploaded photo is gone (expired or deleted)")
    return content


def _age_jobs(db: Database, batch: list, uploads: dict[str, bytes]) -> None:
    from aging_model.outputs import render_photo_result
    from aging_model.pipeline import PhotoRequest

    pipeline = _pipeline()
    requests = [PhotoRequest(uploads[j.id], tuple(j.ages), j.gender) for j in batch]
    outcomes = pipeline.run_many(
        requests, on_stage=lambda index, stage, fraction: jobs.mark_stage(db, batch[index].id, stage, fraction)
    )
    for job, outcome in zip(batch, outcomes):
        if isinstance(outcome, PhotoError):
            jobs.mark_failed(db, job.id, outcome.code, outcome.message)
            continue
        document, files = render_photo_result(outcome, job.item_name or "photo", pipeline.model.card)
        jobs.store_results(db, job.id, document, files)
        if films.film_to_make(job):  # the stills are out: the film is made next, by a task of its own
            make_film.apply_async(args=[job.id])


def _morph_job(db: Database, job, upload_a: bytes) -> None:
    """The largest face of the job's first photo becoming that of its second, at the job's age."""
    from aging_model.media.morph import faces_to_morph, morph_outputs
    from aging_model.outputs import OutputFile

    upload_b = jobs.second_upload_of(db, job.id)
    if upload_b is None:
        jobs.mark_failed(db, job.id, "upload_missing", "the second photo is gone (expired or deleted)")
        return
    age = jobs.morph_age(job)
    jobs.mark_stage(db, job.id, "aging", 0.2)
    try:
        a, b = faces_to_morph(_pipeline(), upload_a, upload_b, age, job.gender)
    except PhotoError as error:
        jobs.mark_failed(db, job.id, error.code, error.message)
        return
    jobs.mark_stage(db, job.id, "morphing", 0.6)
    outputs = morph_outputs(a, b, age)
    types = {".mp4": "video/mp4", ".gif": "image/gif", ".jpg": "image/jpeg"}
    files = [
        OutputFile(name, "morph", None, age, types[name[name.rindex(".") :]], data) for name, data in outputs.items()
    ]
    document = {"morph": {"age": age, "mp4": "morph.mp4", "gif": "morph.gif", "strip": "morph-strip.jpg"}}
    jobs.store_results(db, job.id, document, files)


# The lifespan film: the job is done as soon as its stills are stored, and this task makes the film afterwards.
# Its state and progress are the job's `film_*` columns; a film that fails leaves the job done with its stills.

# Share of a film's time spent aging its 41 frames; encoding the MP4s and GIFs takes the rest (measured on a 2-core
# AMD EPYC: 3.9 s and 0.9 s for a 512 px portrait, 9.7 s and 7.5 s for a 1638x2048 one).
FILM_AGING_SHARE = 0.55


@celery_app.task(name="worker.tasks.make_film", bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def make_film(self, job_id: str) -> None:
    """Make the lifespan film of a job done with its stills, and add it to the job's results."""
    db = _database()
    job = films.start_film(db, job_id, self.request.id)
    if job is None:
        return  # deleted, its film made or given up, or being made by another task
    if job.film_attempts > MAX_ATTEMPTS:
        films.mark_film_failed(db, job_id, "worker_failed", "making the film failed repeatedly on the workers")
        return
    try:
        _make_film(db, job)
    except SoftTimeLimitExceeded:
        films.mark_film_failed(db, job_id, "time_limit", "making the film took too long")
    except PhotoError as error:
        films.mark_film_failed(db, job_id, error.code, error.message)
    except Exception as error:  # a bug or a transient fault: retry with backoff, then give the film up
        log.exception("the film of job %s failed on attempt %d", job_id, job.film_attempts)
        if job.film_attempts >= MAX_ATTEMPTS:
            films.mark_film_failed(db, job_id, "internal_error", "the film could not be made; the stills are kept")
            return
        films.requeue_film(db, job_id)
        raise self.retry(exc=error, countdown=2**job.film_attempts) from None


def _make_film(db: Database, job) -> None:
    """The same photo aged to every age of the film (the faces come in the same order as the stills'), encoded."""
    from aging_model.media.animation import lifespan_ages
    from aging_model.outputs import render_lifespan

    upload = jobs.upload_of(db, job.id)
    if upload is None:
        films.mark_film_failed(db, job.id, "upload_missing", "the uploaded photo is gone (expired or deleted)")
        return
    began = time.monotonic()
    lifespan = _pipeline().run(
        upload,
        ages=lifespan_ages(),
        gender=job.gender,
        on_stage=lambda _stage, fraction: films.mark_film_progress(db, job.id, FILM_AGING_SHARE * fraction),
    )
    films.mark_film_progress(db, job.id, FILM_AGING_SHARE)
    # Encoding reports nothing while it runs: its progress is estimated from the aging's time, as the shares above.
    aging_s = time.monotonic() - began
    with _estimated_progress(db, job.id, FILM_AGING_SHARE, aging_s * (1 - FILM_AGING_SHARE) / FILM_AGING_SHARE):
        document, files = render_lifespan(lifespan)
    films.store_film(db, job.id, document, files)


@contextmanager
def _estimated_progress(db: Database, job_id: str, start: float, expected_s: float, every_s: float = 0.5):
    """While the block runs, move the film's progress from `start` towards 0.95 over `expected_s` (never past it)."""
    stop = threading.Event()

    def tick() -> None:
        began = time.monotonic()
        while not stop.wait(every_s):
            share = min(1.0, (time.monotonic() - began) / max(expected_s, 0.1))
            films.mark_film_progress(db, job_id, start + (0.95 - start) * share)

    thread = threading.Thread(target=tick, name="film-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _try_again_later(db: Database, job) -> None:
    """A job taken along into a call that failed: hand it back to the workers, or fail it when out of tries."""
    if job.attempts >= MAX_ATTEMPTS:
        jobs.mark_failed(db, job.id, "internal_error", "the job could not be completed; try again later")
        return
    jobs.requeue(db, job.id)
    age_photo.apply_async(args=[job.id], countdown=2**job.attempts)


@celery_app.task(name="worker.tasks.requeue_stalled")
def requeue_stalled() -> int:
    """Hand jobs, and films, that no worker is visibly working on to the workers again (scheduled every minute).

    The jobs of a killed worker are handed back sooner, once its heartbeat is gone (worker.heartbeat); this is the
    last resort, for messages lost with a broker and jobs that no worker recorded. A job requeued while it still
    runs does no harm: the second delivery finds it finished and returns, and MAX_ATTEMPTS bounds a photo that
    kills its worker every time.
    """

    settings = _settings()
    db = _database()
    windows = {
        "running_for": timedelta(seconds=settings.task_time_limit_s + 60),
        "queued_for": timedelta(seconds=settings.requeue_queued_after_s),
    }
    stalled = jobs.stalled_jobs(db, **windows)
    for job_id in stalled:
        log.warning("job %s stalled; handing it to the workers again", job_id)
        jobs.requeue(db, job_id)
        age_photo.apply_async(args=[job_id])
    stalled_films = films.stalled_films(db, **windows)
    for job_id in stalled_films:
        log.warning("the film of job %s stalled; handing it to the workers again", job_id)
        films.requeue_film(db, job_id)
        make_film.apply_async(args=[job_id])
    return len(stalled) + len(stalled_films)


@celery_app.task(name="worker.tasks.delete_expired")
def delete_expired() -> int:
    """Delete batches, jobs, uploads and results past their retention (scheduled every 10 minutes by beat);
    returns how many batches and jobs."""
    database = _database()
    expired_batches = batches.delete_expired(database)  # with their jobs
    expired_jobs = jobs.delete_expired(database)
    if expired_batches or expired_jobs:
        log.info("deleted %d expired batch(es) and %d other expired job(s)", expired_batches, expired_jobs)
    return expired_batches + expired_jobs


@celery_app.task(name="worker.tasks.delete_consumed_messages")
def delete_consumed_messages() -> int:
    """Delete the embedded broker's messages handed out longer ago than a job may run (scheduled every 5 minutes
    by beat), so that its file stays small; returns how many."""
    settings = _settings()
    deleted = broker.delete_consumed_messages(
        settings.broker_url, older_than=timedelta(seconds=settings.task_time_limit_s + 60)
    )
    if deleted:
        log.info("deleted %d consumed message(s) from the embedded broker", deleted)
    return deleted


# Dataset curation: the per-image pass runs here in chunks (each image's flags and features are stored as
# soon as its chunk is done, which is also the progress record); the dataset-wide pass runs once after all.


@lru_cache(maxsize=1)
def _curation_models():
    """Detector, age and gender estimator and identity embedder, loaded on a worker's first curation task."""
    from curation.analysis import CurationModels

    settings = _settings()
    return CurationModels.load(settings.estimator_path or None, device=settings.device)


@celery_app.task(name="worker.tasks.curate_images", acks_late=True)
def curate_images(image_ids: list[int]) -> int:
    """Flag a chunk of dataset images; images already analysed are skipped, so a redelivery does no harm."""
    from service import dataset

    return dataset.analyse_chunk(_database(), image_ids, _curation_models())


@celery_app.task(name="worker.tasks.group_dataset_images", acks_late=True)
def group_dataset_images() -> dict:
    """The dataset-wide pass (duplicates, same person) over the features stored by `curate_images`."""
    from service import dataset

    return dict(dataset.store_group_flags(_database()))
