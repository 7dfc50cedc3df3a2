"""Jobs in the database: accept a photo, track its progress, store its results, let only its owner see them.

Shared by the web app (accept, read, delete) and the workers (progress, results). Knows nothing of Flask
or Celery: it takes a `Database` and plain values.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import delete, select

from preprocessing.errors import PhotoError
from preprocessing.loading import DEFAULT_MAX_SIDE, load_photo
from service.config import Settings
from service.database import Database
from service.models import FilmStatus, Job, JobStatus, ResultImage, SecondUpload, Upload, utcnow

GENDERS = ("auto", "male", "female")
# The face detector (MTCNN) cannot run on a photo under 32 px on a side, and the smallest face it keeps is 40 px:
# a photo that small, or so thin that it is that small at the working size, is refused when it is sent.
MIN_PHOTO_SIDE = 32


class RequestError(ValueError):
    """Something the client sent is unusable; `code` and the message go back to them as a 4xx."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class AcceptedJob:
    job_id: str
    token: str | None  # the access token, given once to the uploader; None when a duplicate was found
    duplicate: bool


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_ages(raw: str | None, settings: Settings) -> list[float]:
    if raw is None or not raw.strip():
        return list(settings.default_ages)
    try:
        ages = [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise RequestError("bad_ages", "give ages as numbers separated by commas, e.g. 5,20,40,60,80") from None
    if not ages or len(ages) > 20 or any(not 0 <= a <= 100 for a in ages):
        raise RequestError("bad_ages", "give 1 to 20 ages between 0 and 100, e.g. 5,20,40,60,80")
    return ages


def parse_gender(raw: str | None) -> str:
    gender = (raw or "auto").strip().lower()
    if gender not in GENDERS:
        raise RequestError("bad_gender", "gender must be auto, male or female")
    return gender


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def parse_flag(raw: str | None, name: str) -> bool:
    """A yes/no form field: true/false, 1/0, yes/no, on/off; absent is no."""
    value = (raw or "").strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise RequestError(f"bad_{name}", f"{name} must be true or false")


def normalise_photo(content: bytes, settings: Settings) -> Upload:
    """Decode (bounded), apply EXIF rotation, reduce to the working size and re-encode without metadata.

    Raises RequestError for what the user must fix: not an image, truncated, too large.
    """
    if len(content) > settings.max_upload_bytes:
        raise RequestError(
            "file_too_large",
            f"the file has {len(content) / 2**20:.1f} MB; the limit is {settings.max_upload_bytes / 2**20:.0f} MB",
            413,
        )
    try:
        with _decode_slot(settings.max_concurrent_decodes):
            photo = load_photo(
                content,
                max_side=DEFAULT_MAX_SIDE,
                max_pixels=settings.max_pixels,
                max_decoded_pixels=settings.max_decoded_pixels,
            )
    except PhotoError as error:
        raise RequestError(error.code, error.message, 413 if error.code == "image_too_large" else 400) from None
    _check_large_enough(photo)
    buffer = io.BytesIO()
    Image.fromarray(photo.pixels).save(buffer, "JPEG", quality=95)
    height, width = photo.pixels.shape[:2]
    return Upload(
        content=buffer.getvalue(),
        content_type="image/jpeg",
        width=width,
        height=height,
        original_width=photo.original_size[0],
        original_height=photo.original_size[1],
    )


def _check_large_enough(photo) -> None:
    width, height = photo.original_size
    working_height, working_width = photo.pixels.shape[:2]
    if min(width, height) < MIN_PHOTO_SIDE:
        raise RequestError(
            "image_too_small",
            f"the image is {width}x{height} px, too small to hold a face; send a photo of at least "
            f"{MIN_PHOTO_SIDE} px on each side (a face itself needs 48 px or more)",
        )
    if min(working_width, working_height) < MIN_PHOTO_SIDE:
        raise RequestError(
            "image_too_small",
            f"the image is {width}x{height} px: so long and thin that at the working size ({working_width}x"
            f"{working_height} px) it is under {MIN_PHOTO_SIDE} px across; crop it around the face and send it again",
        )


_DECODE_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_DECODE_SLOTS_LOCK = threading.Lock()


def _decode_slot(limit: int) -> threading.BoundedSemaphore:
    """One of `limit` decodes at a time in this process: with the per-decode pixel limit, this bounds the
    memory that simultaneous uploads can make the web process take."""
    with _DECODE_SLOTS_LOCK:
        return _DECODE_SLOTS.setdefault(limit, threading.BoundedSemaphore(max(1, limit)))


def accept_photo(
    db: Database,
    settings: Settings,
    content: bytes,
    ages: list[float],
    gender: str,
    api_key_id: int | None = None,
    batch_id: str | None = None,
    item_name: str | None = None,
    animate: bool = False,
) -> AcceptedJob:
    """Store a new job for this photo, or return the caller's existing one for the same photo and options.

    Within a batch every file is its own item, even when two files hold the same photo.
    """
    digest = hashlib.sha256(content).hexdigest()
    if api_key_id is not None and batch_id is None:
        existing = _existing_job(db, api_key_id, digest, ages, gender, animate)
        if existing is not None:
            return AcceptedJob(existing, None, duplicate=True)
    upload = normalise_photo(content, settings)
    token = secrets.token_urlsafe(24)
    job = Job(
        id=secrets.token_hex(16),
        token_hash=hash_secret(token),
        api_key_id=api_key_id,
        batch_id=batch_id,
        item_name=item_name,
        photo_sha256=digest,
        ages=ages,
        gender=gender,
        options={"animate": True} if animate else None,
        film_status=FilmStatus.pending if animate else None,
        expires_at=utcnow() + timedelta(hours=settings.retention_hours),
    )
    job.upload = upload
    with db.session() as session:
        session.add(job)
    return AcceptedJob(job.id, token, duplicate=False)


def _existing_job(db, api_key_id, digest, ages, gender, animate) -> str | None:
    with db.session() as session:
        query = select(Job).where(
            Job.api_key_id == api_key_id,
            Job.photo_sha256 == digest,
            Job.status != JobStatus.failed,
            Job.expires_at > utcnow(),
            Job.batch_id.is_(None),
        )
        for job in session.scalars(query):
            if job.ages == ages and job.gender == gender and wants_animation(job) == animate:
                return job.id
    return None


def wants_animation(job: Job) -> bool:
    return bool((job.options or {}).get("animate"))


def get_job(db: Database, job_id: str) -> Job | None:
    with db.session() as session:
        return session.get(Job, job_id)


def may_read(job: Job, token: str | None, api_key_id: int | None) -> bool:
    """The uploader's token, or the API key that created the job; nothing else opens it."""
    if api_key_id is not None and job.api_key_id == api_key_id:
        return True
    return token is not None and secrets.compare_digest(hash_secret(token), job.token_hash)


def upload_of(db: Database, job_id: str) -> bytes | None:
    with db.session() as session:
        upload = session.get(Upload, job_id)
        return upload.content if upload else None


def second_upload_of(db: Database, job_id: str) -> bytes | None:
    with db.session() as session:
        upload = session.get(SecondUpload, job_id)
        return upload.content if upload else None


def parse_age(raw: str | None) -> float:
    """One age, 0-100 (a morph's)."""
    try:
        age = float((raw or "40").strip())
    except ValueError:
        raise RequestError("bad_age", "give the age as a number between 0 and 100, e.g. 40") from None
    if not 0 <= age <= 100:
        raise RequestError("bad_age", "give the age as a number between 0 and 100, e.g. 40")
    return age


def morph_age(job: Job) -> float | None:
    """The age of a morph job; None for a job that ages one photo."""
    morph = (job.options or {}).get("morph")
    return None if morph is None else float(morph["age"])


def accept_morph(
    db: Database,
    settings: Settings,
    content_a: bytes,
    content_b: bytes,
    age: float,
    gender: str,
    api_key_id: int | None = None,
) -> AcceptedJob:
    """Store a job that morphs the face of photo A into that of photo B at `age` (both photos checked and
    stored without metadata, like any upload)."""
    first, second = normalise_photo(content_a, settings), normalise_photo(content_b, settings)
    token = secrets.token_urlsafe(24)
    job = Job(
        id=secrets.token_hex(16),
        token_hash=hash_secret(token),
        api_key_id=api_key_id,
        item_name="morph",
        photo_sha256=hashlib.sha256(content_a + content_b).hexdigest(),
        ages=[age],
        gender=gender,
        options={"morph": {"age": age}},
        expires_at=utcnow() + timedelta(hours=settings.retention_hours),
    )
    job.upload = first
    job.second_upload = SecondUpload(
        content=second.content, content_type=second.content_type, width=second.width, height=second.height
    )
    with db.session() as session:
        session.add(job)
    return AcceptedJob(job.id, token, duplicate=False)


def mark_stage(db: Database, job_id: str, stage: str, progress: float) -> None:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status, job.stage, job.progress = JobStatus.running, stage, round(progress, 3)


def start_attempt(db: Database, job_id: str, task_id: str | None = None, worker: str | None = None) -> Job | None:
    """Count an attempt by task `task_id` of `worker` (its heartbeat's name); returns the job, or None when there is
    nothing to do: it is gone, finished, or being aged by another task that took it along (if that task's worker
    dies, the job is handed to the workers again once its heartbeat is gone: service.workers.requeue_orphans)."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.status in (JobStatus.done, JobStatus.failed):
            return None
        if job.status == JobStatus.running and job.claimed_by not in (None, task_id):
            return None
        job.attempts += 1
        job.status, job.stage, job.progress, job.claimed_by = JobStatus.running, "starting", 0.0, task_id
        job.worker = worker
        return job


def claim_queued(db: Database, task_id: str, limit: int, worker: str | None = None) -> list[Job]:
    """Take up to `limit` queued jobs (oldest first) for task `task_id`, to be aged in one model call with its
    own. Rows locked by another worker's claim are skipped (PostgreSQL), so no job is taken twice."""
    if limit <= 0:
        return []
    with db.session() as session:
        query = (
            select(Job)
            .where(Job.status == JobStatus.queued)
            .order_by(Job.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(session.scalars(query))
        for job in claimed:
            job.attempts += 1
            job.status, job.stage, job.progress, job.claimed_by = JobStatus.running, "starting", 0.0, task_id
            job.worker = worker
        return claimed


def add_result_images(session, job_id: str, files) -> None:
    """Add each output file (an `OutputFile`) to the job's results, in the caller's transaction."""
    for output in files:
        session.add(
            ResultImage(
                job_id=job_id,
                name=output.name,
                kind=output.kind,
                face=output.face,
                age=output.age,
                content_type=output.content_type,
                content=output.content,
            )
        )


def store_results(db: Database, job_id: str, document: dict, files) -> None:
    """Replace any earlier partial results with these, and mark the job done, in one transaction."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        session.execute(delete(ResultImage).where(ResultImage.job_id == job_id))
        add_result_images(session, job_id, files)
        job.result, job.status, job.stage, job.progress = document, JobStatus.done, "done", 1.0
        job.finished_at = utcnow()


def mark_failed(db: Database, job_id: str, code: str, message: str) -> None:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status, job.stage, job.error_code, job.error_message = JobStatus.failed, "failed", code, message
        job.finished_at = utcnow()
        if job.film_status in (FilmStatus.pending, FilmStatus.running):  # no stills, no film: nobody waits for it
            job.film_status = FilmStatus.failed
            job.film_error = {"code": "no_stills", "message": "there is no film: the photo itself could not be aged"}


# The lifespan film: made by its own task once the job is done with its stills, so that they never wait for it.


def result_image(db: Database, job_id: str, name: str) -> ResultImage | None:
    with db.session() as session:
        return session.scalars(
            select(ResultImage).where(ResultImage.job_id == job_id, ResultImage.name == name)
        ).first()


def result_images(db: Database, job_id: str) -> list[ResultImage]:
    with db.session() as session:
        return list(session.scalars(select(ResultImage).where(ResultImage.job_id == job_id).order_by(ResultImage.id)))


def delete_job(db: Database, job_id: str) -> bool:
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return False
        session.delete(job)
    db.reclaim()
    return True


def stalled_jobs(db: Database, running_for: timedelta, queued_for: timedelta, now: datetime | None = None) -> list[str]:
    """Jobs no worker is visibly working on: running without progress for `running_for` (its worker died),
    or queued for `queued_for` (its message was lost, as a broker without late acknowledgement can)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        query = select(Job.id).where(
            ((Job.status == JobStatus.running) & (Job.updated_at < now - running_for))
            | ((Job.status == JobStatus.queued) & (Job.updated_at < now - queued_for))
        )
        return list(session.scalars(query))


def requeue(db: Database, job_id: str) -> None:
    """Hand a job to the workers again: queued, claimed by nobody, looked after as of now."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is not None and job.status in (JobStatus.queued, JobStatus.running):
            hand_back(job)


def hand_back(job: Job) -> None:
    """Within a session: the job queued again, claimed by no task of no worker, looked after as of now."""
    job.status, job.stage, job.claimed_by, job.worker, job.updated_at = JobStatus.queued, "queued", None, None, utcnow()


def requeue_running(db: Database) -> list[str]:
    """Hand every running job to the workers again; returns their ids. Only for a caller that knows no worker is
    running any job: `faceage serve` before it starts its one worker, or once that worker died (a job it was
    running is otherwise found only by the stalled-job sweep, since the embedded broker never redelivers)."""
    with db.session() as session:
        running = list(session.scalars(select(Job).where(Job.status == JobStatus.running)))
        for job in running:
            hand_back(job)
        return [job.id for job in running]


def delete_expired(db: Database, now: datetime | None = None) -> int:
    """Delete every job (with its upload and results) past its retention; returns how many."""
    return delete_expired_rows(db, Job, now)


def delete_expired_rows(db: Database, model, now: datetime | None = None) -> int:
    """Delete every row of `model` (a Job or a Batch, with what it owns) past its `expires_at`; returns how many."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        expired = list(session.scalars(select(model).where(model.expires_at <= now)))
        for row in expired:
            session.delete(row)
    if expired:
        db.reclaim()
    return len(expired)
