"""The review page's queue: the images matching its filters, most suspicious first, what it can filter on,
and the thumbnails it shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from service.database import Database
from service.dataset.decisions import ImageNotFound, review_view
from service.models import DatasetFlag, DatasetImage, DatasetImageStatus, ReviewDecision


@dataclass(frozen=True)
class ReviewFilters:
    """Which images the review page lists; None means any."""

    flag: str | None = None
    min_age: int | None = None  # on the corrected age where there is one
    max_age: int | None = None
    race: int | None = None
    status: str | None = None
    reviewer: str | None = None  # images this reviewer made any decision on


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
