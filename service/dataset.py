"""The dataset being curated, in the database: import files, run the curation passes, list, review, export.

Shared by the CLI and the workers (and later the review page). Knows nothing of Flask or Celery; the
judging itself is `curation/`'s. Image files stay where the dataset lives: the database keeps their path,
content hash, labels, a thumbnail, and what the curation passes found.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from aging_model.data import IMAGE_SUFFIXES
from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.duplicates import ImageFeatures, group_flags
from curation.flags import CERTAIN, GROUP_FLAGS, IMPORT_FLAGS, PER_IMAGE_FLAGS, CurationThresholds, Flag, flag, suspicion
from curation.images import content_sha256, decode_image, make_thumbnail
from curation.labels import ImageLabels, LabelTable, labels_for
from preprocessing.errors import PhotoError
from service.database import Database
from service.models import DatasetFlag, DatasetImage, DatasetImageStatus, ReviewDecision, utcnow

IMPORT_BATCH = 200  # files per transaction: a crash loses little, and SQLite is not asked to commit per file
MANIFEST_COLUMNS = ("path", "age", "gender", "race")  # what aging_model.data.read_manifest reads


# --- Import -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedFile:
    """One file read from disk, ready to register: its hash, labels, and size and thumbnail when decodable."""

    path: str
    sha256: str
    labels: ImageLabels
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    unreadable: str | None = None  # why the pixels could not be decoded


@dataclass
class ImportSummary:
    outcomes: Counter = field(default_factory=Counter)  # new, copy, unchanged, relabelled, failed
    unreadable: int = 0
    malformed: int = 0  # decodable, but without labels
    failures: list[str] = field(default_factory=list)  # files that could not even be read, with the reason

    def line(self) -> str:
        o = self.outcomes
        return (f"{o['new']} new, {o['copy']} exact copies of known images, {o['unchanged']} unchanged, "
                f"{o['relabelled']} relabelled; {self.unreadable} unreadable, {self.malformed} without labels, "
                f"{o['failed']} failed")


def dataset_files(folder: str | Path) -> list[Path]:
    """The image files in `folder` (not its sub-folders, like `faceage train --data`), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_dataset_file(path: Path, table: LabelTable | None = None) -> ImportedFile:
    """Hash, label and thumbnail one file. Raises OSError when the file itself cannot be read."""
    content = path.read_bytes()
    labels = labels_for(path, table)
    common = {"path": str(path.resolve()), "sha256": content_sha256(content), "labels": labels}
    try:
        photo = decode_image(content)
    except PhotoError as error:
        return ImportedFile(**common, unreadable=f"{error.code}: {error.message}")
    width, height = photo.original_size
    return ImportedFile(**common, width=width, height=height, thumbnail=make_thumbnail(photo.pixels))


def import_files(
    db: Database, paths: list[Path], table: LabelTable | None = None, on_file: Callable[[], None] | None = None
) -> ImportSummary:
    """Register every file (idempotent: importing the same folder again changes nothing)."""
    summary = ImportSummary()
    for start in range(0, len(paths), IMPORT_BATCH):
        with db.session() as session:
            for path in paths[start : start + IMPORT_BATCH]:
                _import_one(session, path, table, summary)
                if on_file:
                    on_file()
    return summary


def _import_one(session: Session, path: Path, table: LabelTable | None, summary: ImportSummary) -> None:
    try:
        item = read_dataset_file(path, table)
    except OSError as error:
        summary.outcomes["failed"] += 1
        summary.failures.append(f"{path}: {error.strerror or error}")
        return
    summary.unreadable += item.unreadable is not None
    summary.malformed += item.unreadable is None and not item.labels.labelled
    summary.outcomes[register_file(session, item)] += 1


def register_file(session: Session, item: ImportedFile) -> str:
    """Add the file, or note it as a copy of known content, or refresh its labels; returns which happened."""
    image = session.scalars(select(DatasetImage).where(DatasetImage.sha256 == item.sha256)).first()
    if image is None:
        image = DatasetImage(sha256=item.sha256, source_path=item.path, copies=[], width=item.width,
                             height=item.height, thumbnail=item.thumbnail)
        _set_labels(image, item)
        session.add(image)
        replace_flags(session, image, _import_flags(item), IMPORT_FLAGS)
        return "new"
    if image.source_path == item.path:
        if not _set_labels(image, item):
            return "unchanged"
        replace_flags(session, image, _import_flags(item), IMPORT_FLAGS)
        return "relabelled"
    return _register_copy(image, item)


def _register_copy(image: DatasetImage, item: ImportedFile) -> str:
    copy = {"path": item.path, "age": item.labels.age, "gender": item.labels.gender, "race": item.labels.race}
    others = [c for c in image.copies if c["path"] != item.path]
    known = len(others) < len(image.copies)
    if copy in image.copies:
        return "unchanged"
    image.copies = [*others, copy]  # a new list: SQLAlchemy does not see changes made inside a JSON value
    return "relabelled" if known else "copy"


def _set_labels(image: DatasetImage, item: ImportedFile) -> bool:
    """Store the file's labels; True when they changed (the label flags are then stale: analyse again)."""
    labels = item.labels
    reason = item.unreadable or labels.malformed
    new = (labels.age, labels.gender, labels.race, labels.source, reason)
    if new == (image.age, image.gender, image.race, image.label_source, image.malformed_reason):
        return False
    image.age, image.gender, image.race, image.label_source, image.malformed_reason = new
    image.analysed_at = None
    return True


def _import_flags(item: ImportedFile) -> list[Flag]:
    if item.unreadable:
        return [flag("unreadable", CERTAIN, reason=item.unreadable)]
    if item.labels.malformed:
        return [flag("malformed_name", CERTAIN, reason=item.labels.malformed)]
    return []


# --- Flags --------------------------------------------------------------------------------------------


def replace_flags(session: Session, image: DatasetImage, flags: Iterable[Flag], replacing: Iterable[str]) -> None:
    """Swap the image's flags of the `replacing` names for `flags`, and update its suspicion."""
    replacing = set(replacing)
    kept = [f for f in image.flags if f.name not in replacing]
    image.flags = kept + [DatasetFlag(name=f.name, score=f.score, details=f.details) for f in flags]
    image.suspicion = suspicion([Flag(f.name, f.score) for f in image.flags])


def pending_analysis(db: Database, limit: int | None = None) -> list[int]:
    """Ids of decodable images that the per-image pass has not seen (or must see again), oldest first."""
    with db.session() as session:
        query = select(DatasetImage.id).where(DatasetImage.analysed_at.is_(None), DatasetImage.width.is_not(None))
        return list(session.scalars(query.order_by(DatasetImage.id).limit(limit)))


def analysis_progress(db: Database) -> tuple[int, int]:
    """(analysed, decodable) image counts."""
    with db.session() as session:
        decodable = select(func.count()).select_from(DatasetImage).where(DatasetImage.width.is_not(None))
        done = decodable.where(DatasetImage.analysed_at.is_not(None))
        return session.scalar(done), session.scalar(decodable)


def analyse_chunk(
    db: Database, image_ids: list[int], models: CurationModels, thresholds: CurationThresholds = CurationThresholds()
) -> int:
    """Run the per-image pass on these images and store flags and features; returns how many were analysed.

    Safe to run twice: images already analysed are skipped (a redelivered task does nothing).
    """
    with db.session() as session:
        query = select(DatasetImage).where(DatasetImage.id.in_(image_ids), DatasetImage.analysed_at.is_(None))
        images = list(session.scalars(query.options(selectinload(DatasetImage.flags))))
        readable = []
        for image in images:
            pixels, problem = _read_pixels(image)
            if problem:
                # The file moved or changed since it was imported: say so instead of judging other pixels.
                replace_flags(session, image, [flag("unreadable", CERTAIN, reason=problem)], PER_IMAGE_FLAGS)
                image.analysed_at = utcnow()
            else:
                readable.append((image, pixels))
        analyses = analyse_images([ImageToAnalyse(p, effective_labels(i)) for i, p in readable], models, thresholds)
        for (image, _), analysis in zip(readable, analyses):
            replace_flags(session, image, analysis.flags, PER_IMAGE_FLAGS)
            image.perceptual_hash = analysis.perceptual_hash
            image.embedding = None if analysis.embedding is None else analysis.embedding.astype(np.float32).tobytes()
            image.measures, image.analysed_at = analysis.measures, utcnow()
        return len(images)


def _read_pixels(image: DatasetImage) -> tuple[np.ndarray | None, str | None]:
    try:
        content = Path(image.source_path).read_bytes()
    except OSError as error:
        return None, f"cannot read {image.source_path}: {error.strerror or error}"
    if content_sha256(content) != image.sha256:
        return None, f"{image.source_path} changed since it was imported; import it again"
    try:
        return decode_image(content).pixels, None
    except PhotoError as error:
        return None, error.message


def effective_labels(image: DatasetImage) -> ImageLabels:
    """The curator's corrections where there are any, else the imported labels."""
    age = image.corrected_age if image.corrected_age is not None else image.age
    gender = image.corrected_gender if image.corrected_gender is not None else image.gender
    return ImageLabels(age=age, gender=gender, race=image.race, source=image.label_source)


def store_group_flags(db: Database, thresholds: CurationThresholds = CurationThresholds()) -> Counter:
    """The dataset-wide pass over every image's stored features; replaces all earlier duplicate flags."""
    with db.session() as session:
        columns = (DatasetImage.id, DatasetImage.perceptual_hash, DatasetImage.embedding, DatasetImage.measures,
                   DatasetImage.age, DatasetImage.gender, DatasetImage.copies)
        features = [
            ImageFeatures(key=id_, perceptual_hash=phash, embedding=None if emb is None else np.frombuffer(emb, np.float32),
                          estimated_age=(measures or {}).get("estimated_age"), labels=(age, gender), copies=copies or [])
            for id_, phash, emb, measures, age, gender, copies in session.execute(select(*columns))
        ]
        found = group_flags(features, thresholds)
        session.execute(delete(DatasetFlag).where(DatasetFlag.name.in_(GROUP_FLAGS)))
        for image_id, flags in found.items():
            session.add_all(DatasetFlag(image_id=image_id, name=f.name, score=f.score, details=f.details) for f in flags)
        session.flush()
        _refresh_suspicion(session)
        return Counter(f.name for flags in found.values() for f in flags)


def _refresh_suspicion(session: Session) -> None:
    scores: dict[int, list[Flag]] = {}
    for image_id, name, score in session.execute(select(DatasetFlag.image_id, DatasetFlag.name, DatasetFlag.score)):
        scores.setdefault(image_id, []).append(Flag(name, score))
    for image in session.scalars(select(DatasetImage)):
        image.suspicion = suspicion(scores.get(image.id, []))


# --- Listing, review, export --------------------------------------------------------------------------


def list_images(db: Database, flag_name: str | None = None, status: str | None = None, limit: int | None = None) -> list[dict]:
    """Images as plain dicts, most suspicious first, optionally only those with a flag or a status."""
    with db.session() as session:
        query = select(DatasetImage).options(selectinload(DatasetImage.flags))
        if flag_name:
            query = query.where(DatasetImage.flags.any(DatasetFlag.name == flag_name))
        if status:
            query = query.where(DatasetImage.status == DatasetImageStatus(status))
        query = query.order_by(DatasetImage.suspicion.desc(), DatasetImage.id).limit(limit)
        return [describe(image) for image in session.scalars(query)]


def describe(image: DatasetImage) -> dict:
    """An image for listing or JSON: everything but the thumbnail and the embedding."""
    return {
        "id": image.id, "path": image.source_path, "sha256": image.sha256, "status": image.status.value,
        "age": image.age, "gender": image.gender, "race": image.race, "label_source": image.label_source,
        "corrected_age": image.corrected_age, "corrected_gender": image.corrected_gender,
        "malformed_reason": image.malformed_reason, "width": image.width, "height": image.height,
        "copies": image.copies, "suspicion": image.suspicion, "analysed": image.analysed_at is not None,
        "flags": [{"name": f.name, "score": f.score, "details": f.details} for f in image.flags],
    }


def review_image(
    db: Database, image_id: int, reviewer: str, action: str, age: int | None = None, gender: int | None = None
) -> None:
    """Accept or reject an image, or correct its labels, and keep the decision (with what it changed)."""
    fields = ("status", "corrected_age", "corrected_gender")
    with db.session() as session:
        image = session.get(DatasetImage, image_id)
        if image is None:
            raise KeyError(f"no dataset image {image_id}")
        before = {name: _plain(getattr(image, name)) for name in fields}
        if action in ("accept", "reject"):
            image.status = DatasetImageStatus.accepted if action == "accept" else DatasetImageStatus.rejected
        elif action == "correct":
            image.corrected_age = age if age is not None else image.corrected_age
            image.corrected_gender = gender if gender is not None else image.corrected_gender
        else:
            raise ValueError(f"unknown review action {action!r}: accept, reject or correct")
        after = {name: _plain(getattr(image, name)) for name in fields}
        session.add(ReviewDecision(image_id=image_id, reviewer=reviewer, action=action, before=before, after=after))


def _plain(value):
    return value.value if isinstance(value, DatasetImageStatus) else value


@dataclass(frozen=True)
class ExportSummary:
    written: int
    without_labels: int  # chosen, but with neither labels nor corrections: left out


def export_manifest(db: Database, out: str | Path, include_unflagged_pending: bool = False) -> ExportSummary:
    """Write the accepted images (and, if asked, pending images without any flag) as a training manifest.

    The CSV is what `faceage train --manifest` reads (`path,age,gender,race`), with the curator's corrected
    labels; paths are absolute, so the manifest can live anywhere.
    """
    chosen = DatasetImage.status == DatasetImageStatus.accepted
    if include_unflagged_pending:
        unflagged = (DatasetImage.status == DatasetImageStatus.pending) & ~DatasetImage.flags.any() & DatasetImage.analysed_at.is_not(None)
        chosen = chosen | unflagged
    written = skipped = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with db.session() as session, open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        for image in session.scalars(select(DatasetImage).where(chosen).order_by(DatasetImage.id)):
            labels = effective_labels(image)
            if not labels.labelled:
                skipped += 1
                continue
            writer.writerow([image.source_path, labels.age, labels.gender, "" if labels.race is None else labels.race])
            written += 1
    return ExportSummary(written=written, without_labels=skipped)
