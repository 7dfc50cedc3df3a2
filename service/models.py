"""The service's database schema: API keys, batches, jobs, their uploaded photo and their result images;
and, for curating the training set, its images, their flags, the reviewers and their decisions.

Image bytes live in the database, the one store that the web host and every worker share. Uploads are kept
only as a metadata-free re-encoding (no EXIF, no GPS). Everything a job owns is deleted with it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class JobStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class FilmStatus(str, enum.Enum):
    """Where a job's lifespan film is (it is made after the stills, which never wait for it)."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class ApiKey(Base):
    """An operator's key. Only its SHA-256 is stored; the key itself is shown once, when created."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Batch(Base):
    """Many photos sent together; each becomes a job."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    jobs: Mapped[list[Job]] = relationship(back_populates="batch", cascade="all, delete-orphan", passive_deletes=True)


class Job(Base):
    """One photo's journey: queued -> running (detecting, aging) -> done or failed (with a reason)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Access without an API key is by an unguessable token given to the uploader; only its hash is kept.
    token_hash: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    item_name: Mapped[str | None] = mapped_column(String(500))  # the file's name within its batch
    photo_sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the bytes as uploaded
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16), default=JobStatus.queued, index=True
    )
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    ages: Mapped[list] = mapped_column(JSON)
    gender: Mapped[str] = mapped_column(String(16), default="auto")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What the job makes besides the stills: {"animate": true} adds the lifespan animations; {"morph": {"age": 40}}
    # makes it a morph of its upload into its second upload instead.
    options: Mapped[dict | None] = mapped_column(JSON)
    # The task working on the job: its own, or another task's that took it along to age several jobs' faces
    # in one model call. A delivery of the job's own task leaves a job that another live task has claimed.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # The worker whose process runs it (its heartbeat's name, service.workers): when that worker's heartbeat is
    # gone, the job is handed to the others (service.workers.requeue_orphans).
    worker: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)  # faces with quality, estimated age, timings
    # The lifespan film of a job that asked for it (None otherwise), made after the stills, which never wait for
    # it: pending (waiting for the stills, then in the queue) -> running -> done or failed. A failed film leaves
    # the job done with its stills. While the film is made, `claimed_by` is the film task's (the stills are done).
    film_status: Mapped[FilmStatus | None] = mapped_column(Enum(FilmStatus, native_enum=False, length=16), index=True)
    film_progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    film_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    film_error: Mapped[dict | None] = mapped_column(JSON)  # {code, message} of a failed film
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    batch: Mapped[Batch | None] = relationship(back_populates="jobs")
    upload: Mapped[Upload | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    second_upload: Mapped[SecondUpload | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    images: Mapped[list[ResultImage]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ResultImage.id"
    )


class Upload(Base):
    """The photo to age: EXIF orientation applied, reduced to the working size, re-encoded without metadata."""

    __tablename__ = "uploads"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_width: Mapped[int] = mapped_column(Integer)
    original_height: Mapped[int] = mapped_column(Integer)


class SecondUpload(Base):
    """The second photo of a job that needs two (a morph's person B), stored like the first."""

    __tablename__ = "second_uploads"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class ResultImage(Base):
    """One output image of a job: a composite at an age, or a face's crop, aged face or strip."""

    __tablename__ = "result_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # e.g. photo-age-040.jpg, face-1/strip.jpg
    kind: Mapped[str] = mapped_column(String(32))  # composite, aligned, aged, strip
    face: Mapped[int | None] = mapped_column(Integer)
    age: Mapped[float | None] = mapped_column(Float)
    content_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)


# Dataset curation: the training set's images, what is suspicious about each, and the curator's decisions.
# Image files stay where the dataset lives (workers read them from `source_path`); only a small thumbnail
# is kept here, for the review page.


class DatasetImageStatus(str, enum.Enum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class DatasetImage(Base):
    """One distinct image of the dataset (by content); other paths with the same bytes are `copies`."""

    __tablename__ = "dataset_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    source_path: Mapped[str] = mapped_column(Text)
    copies: Mapped[list] = mapped_column(JSON, default=list)  # [{path, age, gender, race}] of exact duplicates
    age: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[int | None] = mapped_column(Integer)  # 0 = male, 1 = female
    race: Mapped[int | None] = mapped_column(Integer)
    label_source: Mapped[str | None] = mapped_column(String(16))  # file_name or csv
    malformed_reason: Mapped[str | None] = mapped_column(Text)  # why there are no labels, or no pixels
    width: Mapped[int | None] = mapped_column(Integer)  # None when the file cannot be decoded
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)  # small JPEG, re-encoded without metadata
    status: Mapped[DatasetImageStatus] = mapped_column(
        Enum(DatasetImageStatus, native_enum=False, length=16), default=DatasetImageStatus.pending, index=True
    )
    corrected_age: Mapped[int | None] = mapped_column(Integer)
    corrected_gender: Mapped[int | None] = mapped_column(Integer)
    # Features of the per-image pass, kept for the dataset-wide pass (duplicates, same person).
    perceptual_hash: Mapped[str | None] = mapped_column(String(64))  # 256-bit dHash, hex
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # 128 float32, dlib identity of the main face
    measures: Mapped[dict | None] = mapped_column(JSON)  # sharpness, brightness, estimated age...
    analysed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    suspicion: Mapped[float] = mapped_column(Float, default=0.0, index=True)  # from its flags, to sort by
    # Bumped by every review decision (only: the curation passes rewrite flags without touching it). The review
    # page sends back the version it showed, so a reviewer cannot overwrite a decision they have not seen.
    review_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    flags: Mapped[list[DatasetFlag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="DatasetFlag.score.desc()"
    )
    decisions: Mapped[list[ReviewDecision]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ReviewDecision.id"
    )


class DatasetFlag(Base):
    """One suspicion about one image (see curation.flags): a name, a score (higher = worse) and details."""

    __tablename__ = "dataset_flags"
    __table_args__ = (UniqueConstraint("image_id", "name", name="uq_dataset_flags_image_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("dataset_images.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[float] = mapped_column(Float)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class ReviewDecision(Base):
    """What a curator did to an image and when; `before` and `after` are the changed fields, for undo and audit."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("dataset_images.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(32))  # accept, reject, correct, undo
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    # Decisions made together (a bulk accept) share a group, and one undo takes the whole group back.
    group: Mapped[str | None] = mapped_column(String(32), index=True)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reviewer(Base):
    """A curator who signs in to the review page (`faceage reviewer create`). Only a salted scrypt hash of
    the password is kept; the password is shown once, when the account is created."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerHeartbeat(Base):
    """A running worker, as it last reported itself. The worker's main process refreshes `seen_at` every few
    seconds while it consumes the queue; a pool process sets `ready_at` once its models are loaded. A worker
    that stops cleanly deletes its row; one that is killed stops refreshing it, and goes stale."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # Celery's hostname and the process id
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
