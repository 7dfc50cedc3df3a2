"""Batches: many photos in one request (several files, or one zip), each becoming a job of the batch.

Zips are read defensively: member names are cleaned (no absolute paths, no `..`: zip-slip), and sizes are
bounded before and while reading (count, each member, the total, the compression ratio: zip bombs). A file
that cannot be used becomes a failed item with its reason; it does not sink the rest of the batch.

A batch is never held whole in memory: Werkzeug spools each uploaded file over 500 KB to a temporary file, the
zip is read from that file, and `BatchFiles` reads one photo (or zip member) at a time, as its job is made.
"""

from __future__ import annotations

import hashlib
import posixpath
import secrets
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select

from service import jobs
from service.config import Settings
from service.database import Database
from service.jobs import RequestError
from service.models import Batch, Job, JobStatus, utcnow

MAX_COMPRESSION_RATIO = 200  # photos barely compress; a member claiming more is a bomb
_SKIPPED_PREFIXES = ("__MACOSX/",)
_SKIPPED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class BatchItem:
    name: str
    job_id: str
    status: str
    error: dict | None = None


def clean_name(raw: str) -> str | None:
    """A safe relative name for a file of a batch, or None for one to skip (a folder, system junk)."""
    name = raw.replace("\\", "/")
    if name.endswith("/") or name.startswith(_SKIPPED_PREFIXES) or posixpath.basename(name) in _SKIPPED_NAMES:
        return None
    parts = [p for p in posixpath.normpath("/" + name).split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or None


_ENCRYPTED = 0x1  # general-purpose flag bit 0 of a zip member


class BatchFiles(Sequence[tuple[str, bytes]]):
    """The files of a batch as (name, bytes), each read only when it is taken, so that one is in memory at a time."""

    def __init__(self, files: list[tuple[str, Callable[[], bytes]]]):
        self._files = files

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return BatchFiles(self._files[index])
        name, read = self._files[index]
        return name, read()


def read_zip(source: BinaryIO, settings: Settings) -> BatchFiles:
    """The files of a zip (read from `source`, a seekable file) as (clean name, bytes), each read when it is taken;
    RequestError when the archive itself is unusable: its headers, and every member's checksum, are checked first."""
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise RequestError("bad_archive", "the archive is not a readable zip file") from None
    members = [m for m in archive.infolist() if not m.is_dir() and clean_name(m.filename)]
    if len(members) > settings.max_batch_files:
        raise RequestError(
            "too_many_files", f"the zip holds {len(members)} files; the limit is {settings.max_batch_files}", 413
        )
    declared = sum(m.file_size for m in members)
    if declared > settings.max_batch_bytes:
        raise RequestError(
            "archive_too_large",
            f"the zip unpacks to {declared / 2**20:.0f} MB; the limit is {settings.max_batch_bytes / 2**20:.0f} MB",
            413,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > MAX_COMPRESSION_RATIO:
            raise RequestError("zip_bomb", f"{member.filename} expands {ratio:.0f} times; this archive is refused", 413)
        if member.flag_bits & _ENCRYPTED:
            raise RequestError("encrypted_archive", f"{member.filename} is encrypted; send a zip without a password")
    for member in members:  # a damaged member refuses the whole archive before any job is made
        _read_member(archive, member, settings, keep=False)
    return BatchFiles(
        [(clean_name(m.filename), lambda m=m: _read_member(archive, m, settings, keep=True)) for m in members]
    )


_CHUNK_BYTES = 1 << 20


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, settings: Settings, keep: bool) -> bytes:
    """A member's bytes, at most one past the per-file limit (the header may lie); with `keep` False, read through
    in chunks only to check it (zipfile checks the CRC at its end) and return nothing."""
    try:
        with archive.open(member) as handle:
            if keep:
                return handle.read(settings.max_upload_bytes + 1)
            left = settings.max_upload_bytes + 1
            while left > 0 and (chunk := handle.read(min(_CHUNK_BYTES, left))):
                left -= len(chunk)
            return b""
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        # A bad CRC, a truncated or corrupt stream, an unsupported compression method.
        raise RequestError(
            "bad_archive",
            f"{member.filename} cannot be read from the zip ({error}); the archive is damaged: create it again",
        ) from None


def create_batch(
    db: Database,
    settings: Settings,
    files: Sequence[tuple[str, bytes]],
    ages: list[float],
    gender: str,
    api_key_id: int,
) -> tuple[str, list[BatchItem]]:
    """A batch with one job per file; files that cannot be used are failed items with their reason."""
    if not files:
        raise RequestError("no_files", "send the photos as multipart fields 'photos', or one zip as 'archive'")
    if len(files) > settings.max_batch_files:
        raise RequestError(
            "too_many_files", f"{len(files)} files; the limit is {settings.max_batch_files} per batch", 413
        )
    batch = Batch(
        id=secrets.token_hex(16), api_key_id=api_key_id, expires_at=utcnow() + timedelta(hours=settings.retention_hours)
    )
    with db.session() as session:
        session.add(batch)
    items, used = [], set()
    for raw_name, content in files:
        name = _unique(clean_name(raw_name) or "photo", used)
        try:
            accepted = jobs.accept_photo(
                db, settings, content, ages, gender, api_key_id=api_key_id, batch_id=batch.id, item_name=name
            )
            items.append(BatchItem(name, accepted.job_id, "queued"))
        except RequestError as error:
            job_id = _rejected_item(db, settings, batch.id, api_key_id, name, content, ages, gender, error)
            items.append(BatchItem(name, job_id, "failed", {"code": error.code, "message": error.message}))
    return batch.id, items


def _unique(name: str, used: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}.{suffix}" if dot else f"{name}-{n}"
    used.add(candidate)
    return candidate


def _rejected_item(db, settings, batch_id, api_key_id, name, content, ages, gender, error) -> str:
    job = Job(
        id=secrets.token_hex(16),
        token_hash=jobs.hash_secret(secrets.token_urlsafe(24)),
        api_key_id=api_key_id,
        batch_id=batch_id,
        item_name=name,
        photo_sha256=hashlib.sha256(content).hexdigest(),
        ages=ages,
        gender=gender,
        status=JobStatus.failed,
        stage="failed",
        error_code=error.code,
        error_message=error.message,
        finished_at=utcnow(),
        expires_at=utcnow() + timedelta(hours=settings.retention_hours),
    )
    with db.session() as session:
        session.add(job)
    return job.id


def get_batch(db: Database, batch_id: str) -> Batch | None:
    with db.session() as session:
        return session.get(Batch, batch_id)


def delete_batch(db: Database, batch_id: str) -> bool:
    """Delete a batch with its jobs, their uploads and their results; False when there is no such batch."""
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            return False
        session.delete(batch)  # the jobs, and what they own, go with it (ON DELETE CASCADE)
    db.reclaim()
    return True


def delete_expired(db: Database, now: datetime | None = None) -> int:
    """Delete every batch past its retention, with its jobs (as `delete_batch`); returns how many batches."""
    return jobs.delete_expired_rows(db, Batch, now)


def batch_jobs(db: Database, batch_id: str) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.batch_id == batch_id).order_by(Job.item_name)))
