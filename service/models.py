"""The service's database schema: API keys, batches, jobs, their uploaded photo and their result images.

Image bytes live in the database, the one store that the web host and every worker share. Uploads are kept
only as a metadata-free re-encoding (no EXIF, no GPS). Everything a job owns is deleted with it.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class JobStatus(str, enum.Enum):
    queued = "queued"
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
    jobs: Mapped[list["Job"]] = relationship(back_populates="batch", cascade="all, delete-orphan", passive_deletes=True)


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
    status: Mapped[JobStatus] = mapped_column(Enum(JobStatus, native_enum=False, length=16), default=JobStatus.queued, index=True)
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    ages: Mapped[list] = mapped_column(JSON)
    gender: Mapped[str] = mapped_column(String(16), default="auto")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)  # faces with quality, estimated age, timings
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    batch: Mapped[Batch | None] = relationship(back_populates="jobs")
    upload: Mapped["Upload | None"] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    images: Mapped[list["ResultImage"]] = relationship(
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
