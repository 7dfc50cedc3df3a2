"""The out-of-fold label check's storage: the analysed faces it reads, and the label flags it writes back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from curation.flags import LABEL_FLAGS, Flag
from curation.label_check import OutOfFold, person_groups
from preprocessing.alignment import align_face
from service.database import Database
from service.dataset.flagging import replace_flags
from service.dataset.importing import IMPORT_BATCH
from service.dataset.stored_images import effective_labels, read_pixels
from service.models import DatasetFlag, DatasetImage, DatasetImageStatus


@dataclass(frozen=True)
class LabelCheckFaces:
    """The analysed faces, aligned for the estimator, with what `curation.label_check` needs to know of them."""

    ids: list[int]
    chips: np.ndarray  # (N, R, R, 3) uint8
    ages: np.ndarray  # (N,) -1 where unknown
    genders: np.ndarray  # (N,) -1 where unknown
    races: np.ndarray  # (N,) -1 where unknown
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
        ids, chips, ages, genders, races, trainable = [], [], [], [], [], []
        for start in range(0, len(with_face), IMPORT_BATCH):
            batch = dict(with_face[start : start + IMPORT_BATCH])
            for image in session.scalars(
                select(DatasetImage).where(DatasetImage.id.in_(batch)).order_by(DatasetImage.id)
            ):
                pixels, problem = read_pixels(image)
                if on_image is not None:
                    on_image()
                if problem:
                    continue
                labels = effective_labels(image)
                ids.append(image.id)
                chips.append(align_face(pixels, np.asarray(batch[image.id], np.float32), resolution).pixels)
                ages.append(-1 if labels.age is None else labels.age)
                genders.append(-1 if labels.gender is None else labels.gender)
                races.append(-1 if labels.race is None else labels.race)
                trainable.append(
                    labels.age is not None and labels.gender is not None and image.status != DatasetImageStatus.rejected
                )
    chips_array = np.stack(chips) if chips else np.zeros((0, resolution, resolution, 3), np.uint8)
    return LabelCheckFaces(
        ids,
        chips_array,
        np.array(ages, np.int64),
        np.array(genders, np.int64),
        np.array(races, np.int64),
        np.array(trainable, bool),
        [f"person-{groups[i]}" for i in ids],
    )


def _matched_pairs(session: Session) -> list[tuple[int, int]]:
    """(image, image) pairs the dataset-wide pass matched, strongest first: near copies by differing bits,
    then the same person by relative embedding distance (`distance` in flags stored before it)."""
    query = select(DatasetFlag.image_id, DatasetFlag.name, DatasetFlag.details).where(
        DatasetFlag.name.in_(("near_duplicate", "same_person"))
    )
    ranked = []
    for image_id, name, details in session.execute(query):
        details = details or {}
        if name == "near_duplicate":
            measures = details.get("bits", [])
        else:
            measures = details.get("relative_distance", details.get("distance", []))
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
