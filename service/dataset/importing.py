"""Import: register a folder's image files once each, with their labels, a thumbnail, and the import flags.

Importing is idempotent: a file already known is left alone, relabelled, or noted as a copy of known content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aging_model.data import IMAGE_SUFFIXES
from curation.flags import CERTAIN, IMPORT_FLAGS, Flag, flag
from curation.images import content_sha256, decode_image, make_thumbnail
from curation.labels import ImageLabels, LabelTable, labels_for
from preprocessing.errors import PhotoError
from service.database import Database
from service.dataset.flagging import replace_flags
from service.models import DatasetImage

IMPORT_BATCH = 200  # files per transaction: a crash loses little, and SQLite is not asked to commit per file


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
        return (
            f"{o['new']} new, {o['copy']} exact copies of known images, {o['unchanged']} unchanged, "
            f"{o['relabelled']} relabelled; {self.unreadable} unreadable, {self.malformed} without labels, "
            f"{o['failed']} failed"
        )


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
        image = DatasetImage(
            sha256=item.sha256,
            source_path=item.path,
            copies=[],
            width=item.width,
            height=item.height,
            thumbnail=item.thumbnail,
        )
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
