"""Flags: the per-image curation pass, the dataset-wide pass over what it stored, and each image's suspicion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.duplicates import ImageFeatures, group_flags
from curation.flags import CERTAIN, GROUP_FLAGS, PER_IMAGE_FLAGS, CurationThresholds, Flag, flag, suspicion
from service.database import Database
from service.dataset.stored_images import effective_labels, read_pixels
from service.models import DatasetFlag, DatasetImage, utcnow


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
            pixels, problem = read_pixels(image)
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


def store_group_flags(db: Database, thresholds: CurationThresholds = CurationThresholds()) -> Counter:
    """The dataset-wide pass over every image's stored features; replaces all earlier duplicate flags."""
    with db.session() as session:
        found = group_flags(stored_features(session), thresholds)
        session.execute(delete(DatasetFlag).where(DatasetFlag.name.in_(GROUP_FLAGS)))
        for image_id, flags in found.items():
            session.add_all(
                DatasetFlag(image_id=image_id, name=f.name, score=f.score, details=f.details) for f in flags
            )
        session.flush()
        _refresh_suspicion(session)
        return Counter(f.name for flags in found.values() for f in flags)


def stored_features(session: Session) -> list[ImageFeatures]:
    """Every image's features as the per-image pass stored them, keyed by image id."""
    columns = (
        DatasetImage.id,
        DatasetImage.perceptual_hash,
        DatasetImage.embedding,
        DatasetImage.measures,
        DatasetImage.age,
        DatasetImage.gender,
        DatasetImage.copies,
    )
    return [
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


def split_twins_of(db: Database, thresholds: CurationThresholds = CurationThresholds()) -> list | None:
    """`curation.leakage.split_twins` over the imported and analysed images, named by file name; None when no
    image has an embedding yet."""
    from aging_model.data import is_validation
    from curation.leakage import split_twins

    with db.session() as session:
        features = stored_features(session)
        names = {
            id_: Path(path).name for id_, path in session.execute(select(DatasetImage.id, DatasetImage.source_path))
        }
    if not any(f.embedding is not None for f in features):
        return None
    return split_twins(features, names, is_validation, thresholds)


def _refresh_suspicion(session: Session) -> None:
    scores: dict[int, list[Flag]] = {}
    for image_id, name, score in session.execute(select(DatasetFlag.image_id, DatasetFlag.name, DatasetFlag.score)):
        scores.setdefault(image_id, []).append(Flag(name, score))
    for image in session.scalars(select(DatasetImage)):
        image.suspicion = suspicion(scores.get(image.id, []))
