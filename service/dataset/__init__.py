"""The dataset being curated, in the database: import files, run the curation passes, list, review, export.

Shared by the CLI, the workers and the review page. Knows nothing of Flask or Celery; the
judging itself is `curation/`'s. Image files stay where the dataset lives: the database keeps their path,
content hash, labels, a thumbnail, and what the curation passes found.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from aging_model.data import IMAGE_SUFFIXES
from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.duplicates import ImageFeatures, group_flags
from curation.flags import (
    CERTAIN,
    GROUP_FLAGS,
    IMPORT_FLAGS,
    LABEL_FLAGS,
    PER_IMAGE_FLAGS,
    CurationThresholds,
    Flag,
    flag,
    suspicion,
)
from curation.images import content_sha256, decode_image, make_thumbnail
from curation.label_check import OutOfFold, person_groups
from curation.labels import ImageLabels, LabelTable, labels_for
from preprocessing.alignment import align_face
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


# --- Flags --------------------------------------------------------------------------------------------


def replace_flags(session: Session, image: DatasetImage, flags: Iterable[Flag], replacing: Iterable[str]) -> None:
    """Swap the image's flags of the `replacing` names for `flags`, and update its suspicion."""
    replacing = set(replacing)
    stale = [f for f in image.flags if f.name in replacing]
    if stale:
        for old in stale:
            image.flags.remove(old)
        # The unit of work inserts before it deletes, and a flag's name is unique per image: the old rows go first.
        session.flush()
    image.flags.extend(DatasetFlag(name=f.name, score=f.score, details=f.details) for f in flags)
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
        columns = (
            DatasetImage.id,
            DatasetImage.perceptual_hash,
            DatasetImage.embedding,
            DatasetImage.measures,
            DatasetImage.age,
            DatasetImage.gender,
            DatasetImage.copies,
        )
        features = [
            ImageFeatures(
                key=id_,
                perceptual_hash=phash,
                embedding=None if emb is None else np.frombuffer(emb, np.float32),
                estimated_age=(measures or {}).get("estimated_age"),
                labels=(age, gender),
                copies=copies or [],
            )
            for id_, phash, emb, measures, age, gender, copies in session.execute(select(*columns))
        ]
        found = group_flags(features, thresholds)
        session.execute(delete(DatasetFlag).where(DatasetFlag.name.in_(GROUP_FLAGS)))
        for image_id, flags in found.items():
            session.add_all(
                DatasetFlag(image_id=image_id, name=f.name, score=f.score, details=f.details) for f in flags
            )
        session.flush()
        _refresh_suspicion(session)
        return Counter(f.name for flags in found.values() for f in flags)


def _refresh_suspicion(session: Session) -> None:
    scores: dict[int, list[Flag]] = {}
    for image_id, name, score in session.execute(select(DatasetFlag.image_id, DatasetFlag.name, DatasetFlag.score)):
        scores.setdefault(image_id, []).append(Flag(name, score))
    for image in session.scalars(select(DatasetImage)):
        image.suspicion = suspicion(scores.get(image.id, []))


# --- The out-of-fold label check -------------------------------------------------------------------


@dataclass(frozen=True)
class LabelCheckFaces:
    """The analysed faces, aligned for the estimator, with what `curation.label_check` needs to know of them."""

    ids: list[int]
    chips: np.ndarray  # (N, R, R, 3) uint8
    ages: np.ndarray  # (N,) -1 where unknown
    genders: np.ndarray  # (N,) -1 where unknown
    trainable: np.ndarray  # (N,) bool: labelled and not rejected
    person_keys: list[str]  # photos of one person (or near copies) share a key, and so a fold


def label_check_faces(db: Database, resolution: int, on_image: Callable[[], None] | None = None) -> LabelCheckFaces:
    """Every analysed image with a face, re-aligned from its stored landmarks (no detection needed)."""
    with db.session() as session:
        rows = session.execute(
            select(DatasetImage.id, DatasetImage.measures)
            .where(DatasetImage.analysed_at.is_not(None))
            .order_by(DatasetImage.id)
        ).all()
        with_face = [(id_, measures["landmarks"]) for id_, measures in rows if measures and measures.get("landmarks")]
        groups = person_groups([id_ for id_, _ in with_face], _matched_pairs(session))
        ids, chips, ages, genders, trainable = [], [], [], [], []
        for start in range(0, len(with_face), IMPORT_BATCH):
            batch = dict(with_face[start : start + IMPORT_BATCH])
            for image in session.scalars(
                select(DatasetImage).where(DatasetImage.id.in_(batch)).order_by(DatasetImage.id)
            ):
                pixels, problem = _read_pixels(image)
                if on_image is not None:
                    on_image()
                if problem:
                    continue
                labels = effective_labels(image)
                ids.append(image.id)
                chips.append(align_face(pixels, np.asarray(batch[image.id], np.float32), resolution).pixels)
                ages.append(-1 if labels.age is None else labels.age)
                genders.append(-1 if labels.gender is None else labels.gender)
                trainable.append(
                    labels.age is not None and labels.gender is not None and image.status != DatasetImageStatus.rejected
                )
    chips_array = np.stack(chips) if chips else np.zeros((0, resolution, resolution, 3), np.uint8)
    return LabelCheckFaces(
        ids,
        chips_array,
        np.array(ages, np.int64),
        np.array(genders, np.int64),
        np.array(trainable, bool),
        [f"person-{groups[i]}" for i in ids],
    )


def _matched_pairs(session: Session) -> list[tuple[int, int]]:
    """(image, image) pairs the dataset-wide pass matched, strongest first: near copies by differing bits,
    then the same person by embedding distance."""
    query = select(DatasetFlag.image_id, DatasetFlag.name, DatasetFlag.details).where(
        DatasetFlag.name.in_(("near_duplicate", "same_person"))
    )
    ranked = []
    for image_id, name, details in session.execute(query):
        details = details or {}
        measures = details.get("bits" if name == "near_duplicate" else "distance", [])
        for other, measure in zip(details.get("images", []), measures):
            ranked.append((name != "near_duplicate", measure, image_id, other))
    return [(a, b) for _, _, a, b in sorted(ranked)]


def store_label_check(db: Database, faces: LabelCheckFaces, flags: list[list[Flag]], reading: OutOfFold) -> Counter:
    """Replace the label flags of the checked images with the out-of-fold ones, and keep the readings."""
    position = {image_id: i for i, image_id in enumerate(faces.ids)}
    with db.session() as session:
        for start in range(0, len(faces.ids), IMPORT_BATCH):
            batch = faces.ids[start : start + IMPORT_BATCH]
            query = select(DatasetImage).where(DatasetImage.id.in_(batch)).options(selectinload(DatasetImage.flags))
            for image in session.scalars(query):
                i = position[image.id]
                replace_flags(session, image, flags[i], LABEL_FLAGS)
                image.measures = {
                    **(image.measures or {}),
                    "out_of_fold_age": round(float(reading.ages[i]), 2),
                    "out_of_fold_female_probability": round(float(reading.female_probability[i]), 4),
                }
    return Counter(f.name for image_flags in flags for f in image_flags)


# --- Listing, review, export --------------------------------------------------------------------------


def list_images(
    db: Database, flag_name: str | None = None, status: str | None = None, limit: int | None = None
) -> list[dict]:
    """Images as plain dicts, most suspicious first, optionally only those with a flag or a status."""
    with db.session() as session:
        query = select(DatasetImage).options(selectinload(DatasetImage.flags))
        if flag_name:
            query = query.where(DatasetImage.flags.any(DatasetFlag.name == flag_name))
        if status:
            query = query.where(DatasetImage.status == DatasetImageStatus(status))
        query = query.order_by(DatasetImage.suspicion.desc(), DatasetImage.id).limit(limit)
        return [describe(image) for image in session.scalars(query)]


def top_flagged(db: Database, flag_name: str, limit: int) -> list[tuple[int, float, dict]]:
    """(image id, the flag's score, the image's labels) of the images with that flag, highest score first."""
    with db.session() as session:
        rows = session.execute(
            select(DatasetFlag.image_id, DatasetFlag.score, DatasetImage.age, DatasetImage.gender)
            .join(DatasetImage, DatasetImage.id == DatasetFlag.image_id)
            .where(DatasetFlag.name == flag_name)
            .order_by(DatasetFlag.score.desc(), DatasetFlag.image_id)
            .limit(limit)
        )
        return [(image_id, score, {"age": age, "gender": gender}) for image_id, score, age, gender in rows]


def flag_counts(db: Database) -> dict[str, int]:
    """How many images carry each flag."""
    with db.session() as session:
        rows = session.execute(select(DatasetFlag.name, func.count()).group_by(DatasetFlag.name))
        return dict(sorted(rows, key=lambda row: -row[1]))


def describe(image: DatasetImage) -> dict:
    """An image for listing or JSON: everything but the thumbnail and the embedding."""
    return {
        "id": image.id,
        "path": image.source_path,
        "sha256": image.sha256,
        "status": image.status.value,
        "age": image.age,
        "gender": image.gender,
        "race": image.race,
        "label_source": image.label_source,
        "corrected_age": image.corrected_age,
        "corrected_gender": image.corrected_gender,
        "malformed_reason": image.malformed_reason,
        "width": image.width,
        "height": image.height,
        "copies": image.copies,
        "suspicion": image.suspicion,
        "analysed": image.analysed_at is not None,
        "flags": [{"name": f.name, "score": f.score, "details": f.details} for f in image.flags],
    }


def review_image(
    db: Database,
    image_id: int,
    reviewer: str,
    action: str,
    age: int | None = None,
    gender: int | None = None,
    expected_version: int | None = None,
) -> dict:
    """Accept or reject an image, or correct its labels, and keep the decision (with what it changed).

    With `expected_version` (the image's `review_version` the reviewer saw), raises StaleImage instead of
    overwriting a decision made since. Returns the image as `review_view` describes it.
    """
    [image] = decide(db, reviewer, action, [ReviewTarget(image_id, expected_version)], age=age, gender=gender)
    return image


# --- Review: decisions that never overwrite each other, undo, the review queue -------------------------

REVIEWED_FIELDS = ("status", "corrected_age", "corrected_gender")  # what a decision changes, kept before and after
REVIEW_ACTIONS = ("accept", "reject", "correct")
UNDO_ACTION = "undo"
MAX_AGE = 120


class ReviewError(Exception):
    """A review request that cannot be done as asked; the message is meant for the reviewer."""


class ImageNotFound(ReviewError, LookupError):
    pass


class InvalidReview(ReviewError, ValueError):
    pass


class NothingToUndo(ReviewError):
    pass


class StaleImage(ReviewError):
    """Another decision was made on these images since the reviewer saw them; nothing was changed."""

    def __init__(self, message: str, image_ids: list[int]):
        super().__init__(message)
        self.image_ids = image_ids


@dataclass(frozen=True)
class ReviewTarget:
    image_id: int
    version: int | None = None  # the review_version the reviewer saw; None: whatever is current (the CLI)


@dataclass(frozen=True)
class ReviewFilters:
    """Which images the review page lists; None means any."""

    flag: str | None = None
    min_age: int | None = None  # on the corrected age where there is one
    max_age: int | None = None
    race: int | None = None
    status: str | None = None
    reviewer: str | None = None  # images this reviewer made any decision on


def decide(
    db: Database,
    reviewer: str,
    action: str,
    targets: list[ReviewTarget],
    age: int | None = None,
    gender: int | None = None,
) -> list[dict]:
    """Apply one decision to every target image, to all of them or to none, recording who, when, before, after.

    Raises StaleImage when any image is no longer at the version the reviewer saw, ImageNotFound for an
    unknown image, InvalidReview for an unknown action or impossible labels.
    """
    _check_decision(action, age, gender)
    targets = list({t.image_id: t for t in targets}.values())
    if not targets:
        raise InvalidReview("choose at least one image")
    group = uuid.uuid4().hex
    with db.session() as session:
        _claim(session, targets)
        images = _load_for_review(session, [t.image_id for t in targets])
        for image in images:
            before = _reviewed_fields(image)
            _apply_decision(image, action, age, gender)
            session.add(
                ReviewDecision(
                    image_id=image.id,
                    reviewer=reviewer,
                    action=action,
                    group=group,
                    before=before,
                    after=_reviewed_fields(image),
                )
            )
        return [review_view(image) for image in images]


def undo_last_decision(db: Database, reviewer: str) -> list[dict]:
    """Take back the reviewer's latest decision that is not undone yet (every image of a bulk one).

    Refused with StaleImage when someone changed one of its images since: undo must not erase their work.
    """
    with db.session() as session:
        decisions = _latest_undoable(session, reviewer)
        if not decisions:
            raise NothingToUndo("you have no decision left to undo")
        ids = [d.image_id for d in decisions]
        current = select(DatasetImage.id, DatasetImage.review_version).where(DatasetImage.id.in_(ids))
        versions = dict(session.execute(current).all())
        _claim(session, [ReviewTarget(i, versions.get(i, -1)) for i in ids])
        images = {image.id: image for image in _load_for_review(session, ids)}
        changed = [d.image_id for d in decisions if _reviewed_fields(images[d.image_id]) != d.after]
        if changed:
            raise StaleImage(_changed_since(session, changed, "since your decision, so it was not undone"), changed)
        group, now = uuid.uuid4().hex, utcnow()
        for decision in decisions:
            image = images[decision.image_id]
            before = _reviewed_fields(image)
            _restore(image, decision.before)
            decision.undone_at = now
            session.add(
                ReviewDecision(
                    image_id=image.id,
                    reviewer=reviewer,
                    action=UNDO_ACTION,
                    group=group,
                    before=before,
                    after=_reviewed_fields(image),
                )
            )
        return [review_view(images[i]) for i in ids]


def _check_decision(action: str, age: int | None, gender: int | None) -> None:
    if action not in REVIEW_ACTIONS:
        raise InvalidReview(f"unknown review action {action!r}: accept, reject or correct")
    if action == "correct" and age is None and gender is None:
        raise InvalidReview("a correction needs an age or a gender")
    if age is not None and not (isinstance(age, int) and 0 <= age <= MAX_AGE):
        raise InvalidReview(f"an age is a whole number of years from 0 to {MAX_AGE}")
    if gender is not None and gender not in (0, 1):
        raise InvalidReview("a gender is 0 (male) or 1 (female)")


def _claim(session: Session, targets: list[ReviewTarget]) -> None:
    """Bump each image's review version, but only where it is still the version the reviewer saw.

    Writing first (a compare-and-set) rather than reading then writing is what makes two reviewers safe:
    the database serialises the two updates, and the second one matches no row.
    """
    missed = []
    for target in targets:
        claim = update(DatasetImage).where(DatasetImage.id == target.image_id)
        if target.version is not None:
            claim = claim.where(DatasetImage.review_version == target.version)
        claim = claim.values(review_version=DatasetImage.review_version + 1).execution_options(
            synchronize_session=False
        )
        if session.execute(claim).rowcount == 0:
            missed.append(target.image_id)
    if not missed:
        return
    known = set(session.scalars(select(DatasetImage.id).where(DatasetImage.id.in_(missed))))
    if unknown := [i for i in missed if i not in known]:
        raise ImageNotFound(f"no dataset image {', '.join(map(str, unknown))}")
    raise StaleImage(_changed_since(session, missed, "since you loaded it; look again and decide again"), missed)


def _changed_since(session: Session, image_ids: list[int], outcome: str) -> str:
    """A message naming who last decided on each image, so the reviewer knows whose work they would lose."""
    parts = []
    for image_id in image_ids:
        last = session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.image_id == image_id)
            .order_by(ReviewDecision.id.desc())
            .limit(1)
        ).first()
        who = f" by {last.reviewer} ({last.action})" if last else ""
        parts.append(f"image {image_id} was changed{who}")
    return "; ".join(parts) + " " + outcome


def _load_for_review(session: Session, image_ids: list[int]) -> list[DatasetImage]:
    """The images in the order asked, fresh from the database, with their flags."""
    query = select(DatasetImage).where(DatasetImage.id.in_(image_ids)).options(selectinload(DatasetImage.flags))
    found = {image.id: image for image in session.scalars(query.execution_options(populate_existing=True))}
    return [found[i] for i in image_ids if i in found]


def _latest_undoable(session: Session, reviewer: str) -> list[ReviewDecision]:
    undoable = (
        (ReviewDecision.reviewer == reviewer)
        & (ReviewDecision.action != UNDO_ACTION)
        & ReviewDecision.undone_at.is_(None)
    )
    latest = session.scalars(select(ReviewDecision).where(undoable).order_by(ReviewDecision.id.desc()).limit(1)).first()
    if latest is None or latest.group is None:  # decisions from before groups existed stand alone
        return [latest] if latest else []
    return list(
        session.scalars(
            select(ReviewDecision).where(undoable, ReviewDecision.group == latest.group).order_by(ReviewDecision.id)
        )
    )


def _reviewed_fields(image: DatasetImage) -> dict:
    return {name: _plain(getattr(image, name)) for name in REVIEWED_FIELDS}


def _apply_decision(image: DatasetImage, action: str, age: int | None, gender: int | None) -> None:
    if action == "accept":
        image.status = DatasetImageStatus.accepted
    elif action == "reject":
        image.status = DatasetImageStatus.rejected
    else:
        image.corrected_age = age if age is not None else image.corrected_age
        image.corrected_gender = gender if gender is not None else image.corrected_gender


def _restore(image: DatasetImage, fields: dict) -> None:
    image.status = DatasetImageStatus(fields["status"])
    image.corrected_age, image.corrected_gender = fields["corrected_age"], fields["corrected_gender"]


def _plain(value):
    return value.value if isinstance(value, DatasetImageStatus) else value


def review_view(image: DatasetImage) -> dict:
    """An image as the review page shows it: the file's name only (never its path), labels, flags, version."""
    labels = effective_labels(image)
    return {
        "id": image.id,
        "name": Path(image.source_path).name,
        "version": image.review_version,
        "status": image.status.value,
        "age": image.age,
        "gender": image.gender,
        "race": image.race,
        "corrected_age": image.corrected_age,
        "corrected_gender": image.corrected_gender,
        "effective_age": labels.age,
        "effective_gender": labels.gender,
        "suspicion": image.suspicion,
        "malformed_reason": image.malformed_reason,
        "width": image.width,
        "height": image.height,
        "copies": len(image.copies or []),
        "has_thumbnail": image.thumbnail is not None,
        "flags": [{"name": f.name, "score": f.score, "details": f.details} for f in image.flags],
    }


def review_detail(db: Database, image_id: int) -> dict:
    """One image for the detail panel: `review_view` plus its whole decision history, oldest first."""
    with db.session() as session:
        images = _load_for_review(session, [image_id])
        if not images:
            raise ImageNotFound(f"no dataset image {image_id}")
        decisions = session.scalars(
            select(ReviewDecision).where(ReviewDecision.image_id == image_id).order_by(ReviewDecision.id)
        )
        history = [
            {
                "reviewer": d.reviewer,
                "decided_at": d.decided_at.isoformat(),
                "action": d.action,
                "before": d.before,
                "after": d.after,
                "undone": d.undone_at is not None,
            }
            for d in decisions
        ]
        return {**review_view(images[0]), "decisions": history}


def review_queue(db: Database, filters: ReviewFilters, offset: int = 0, limit: int = 100) -> dict:
    """A page of the images matching `filters`, most suspicious first, with how many match and the progress
    (images decided, of those matching every filter but the status)."""
    with db.session() as session:
        query = _filtered(select(DatasetImage), filters).options(selectinload(DatasetImage.flags))
        query = query.order_by(DatasetImage.suspicion.desc(), DatasetImage.id).offset(offset).limit(limit)
        images = [review_view(image) for image in session.scalars(query)]
        matching = session.scalar(_filtered(select(func.count(DatasetImage.id)), filters))
        scope = _filtered(select(func.count(DatasetImage.id)), filters, with_status=False)
        reviewed = session.scalar(scope.where(DatasetImage.status != DatasetImageStatus.pending))
        return {"images": images, "matching": matching, "reviewed": reviewed, "total": session.scalar(scope)}


def _filtered(query, filters: ReviewFilters, with_status: bool = True):
    age = func.coalesce(DatasetImage.corrected_age, DatasetImage.age)
    if filters.flag:
        query = query.where(DatasetImage.flags.any(DatasetFlag.name == filters.flag))
    if filters.min_age is not None:
        query = query.where(age >= filters.min_age)
    if filters.max_age is not None:
        query = query.where(age <= filters.max_age)
    if filters.race is not None:
        query = query.where(DatasetImage.race == filters.race)
    if filters.status and with_status:
        query = query.where(DatasetImage.status == DatasetImageStatus(filters.status))
    if filters.reviewer:
        query = query.where(DatasetImage.decisions.any(ReviewDecision.reviewer == filters.reviewer))
    return query


def review_facets(db: Database) -> dict:
    """What the filters can choose from: flag names (with counts), races present, reviewers who decided."""
    with db.session() as session:
        flags = session.execute(
            select(DatasetFlag.name, func.count()).group_by(DatasetFlag.name).order_by(DatasetFlag.name)
        )
        races = session.scalars(
            select(DatasetImage.race).where(DatasetImage.race.is_not(None)).distinct().order_by(DatasetImage.race)
        )
        reviewers = session.scalars(select(ReviewDecision.reviewer).distinct().order_by(ReviewDecision.reviewer))
        return {
            "flags": [{"name": n, "count": c} for n, c in flags],
            "races": list(races),
            "reviewers": list(reviewers),
        }


def thumbnail_of(db: Database, image_id: int) -> bytes:
    """The image's stored thumbnail (JPEG); ImageNotFound when there is none."""
    with db.session() as session:
        content = session.scalar(select(DatasetImage.thumbnail).where(DatasetImage.id == image_id))
    if content is None:
        raise ImageNotFound(f"no thumbnail for dataset image {image_id}")
    return content


@dataclass(frozen=True)
class ExportSummary:
    written: int
    without_labels: int  # chosen, but with neither labels nor corrections: left out


def export_manifest(
    db: Database, out: str | Path, pending_unless_flagged: Iterable[str] | None = None
) -> ExportSummary:
    """Write the accepted images (and, if asked, analysed pending images free of the given flags) as a manifest.

    The CSV is what `faceage train --manifest` reads (`path,age,gender,race`), with the curator's corrected
    labels; paths are absolute, so the manifest can live anywhere. `pending_unless_flagged` (flag names) adds
    the pending images that were analysed and carry none of those flags: `ALL_FLAGS` adds the unflagged ones.
    """
    chosen = DatasetImage.status == DatasetImageStatus.accepted
    if pending_unless_flagged is not None:
        blocking = DatasetImage.flags.any(DatasetFlag.name.in_(list(pending_unless_flagged)))
        clean_pending = (
            (DatasetImage.status == DatasetImageStatus.pending) & ~blocking & DatasetImage.analysed_at.is_not(None)
        )
        chosen = chosen | clean_pending
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
