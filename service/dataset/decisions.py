"""Review decisions that never overwrite each other: decide, undo, and an image's history of them.

Each decision records who, when, and the reviewed fields before and after; a decision on an image someone else
changed since the reviewer loaded it is refused (StaleImage) instead of overwriting their work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from service.database import Database
from service.dataset.stored_images import effective_labels
from service.models import DatasetImage, DatasetImageStatus, ReviewDecision, utcnow

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
