"""Listing for the command line: images with their flags, the top of one flag, and how many carry each."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from curation.fairness import FacePopulation
from service.database import Database
from service.models import DatasetFlag, DatasetImage, DatasetImageStatus


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


def flag_population(db: Database) -> list[FacePopulation]:
    """Every analysed image's labels (the curator's corrections first) and flag names, for `curation.fairness`."""
    with db.session() as session:
        query = (
            select(DatasetImage).options(selectinload(DatasetImage.flags)).where(DatasetImage.analysed_at.is_not(None))
        )
        return [
            FacePopulation(
                age=image.age if image.corrected_age is None else image.corrected_age,
                gender=image.gender if image.corrected_gender is None else image.corrected_gender,
                race=image.race,
                flags=frozenset(f.name for f in image.flags),
            )
            for image in session.scalars(query)
        ]


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
