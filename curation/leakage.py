"""Leakage between splits: one person in both the training and the validation split.

The split is fixed by a hash of the file name (`aging_model.data.is_validation`), so two photos of one person
usually land on different sides, and the validation MAE then measures partly memory. Twins are found with the
same relative rule as the `same_person` flag (`curation.duplicates.same_person_pairs`: each face's scale is its
median distance to its 40 nearest), on the embeddings the per-image pass stored; near duplicates count too. The
fix moves the validation side of every twin into training (a list of file names that `is_validation` honours):
validation shrinks a little and stays made of strangers to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.duplicates import ImageFeatures, neighbourhood_scales
from curation.flags import CurationThresholds

_BLOCK = 64  # held-out rows compared against every face at once


@dataclass(frozen=True)
class SplitTwin:
    """A held-out face and a training face that look like one person."""

    validation_name: str
    train_name: str
    relative_distance: float


def split_twins(
    features: list[ImageFeatures],
    names: dict[int, str],
    is_validation,
    thresholds: CurationThresholds = CurationThresholds(),
) -> list[SplitTwin]:
    """Every same-person pair with one face on each side of the split, closest first.

    `names` gives each feature key's file name; `is_validation(name)` says on which side the split puts it.
    Faces estimated younger than `same_person_min_age` are left out, as for the flag.
    """
    adults = [
        f
        for f in features
        if f.key in names
        and f.embedding is not None
        and f.estimated_age is not None
        and f.estimated_age >= thresholds.same_person_min_age
    ]
    if len(adults) < 2:
        return []
    vectors = np.stack([f.embedding for f in adults]).astype(np.float32)
    scales = neighbourhood_scales(vectors, thresholds.same_person_neighbours, missing=thresholds.same_person_distance)
    held_out = np.array([is_validation(names[f.key]) for f in adults])
    squared = (vectors**2).sum(axis=1)
    twins = []
    # Only the held-out rows (5 %) against every face: the pass costs little beyond the neighbourhood scales.
    for start in range(0, int(held_out.sum()), _BLOCK):
        rows = np.flatnonzero(held_out)[start : start + _BLOCK]
        distances = np.sqrt(np.maximum(squared[rows, None] + squared[None, :] - 2 * vectors[rows] @ vectors.T, 0))
        ratios = distances / np.minimum(scales[rows, None], scales[None, :])
        close = (ratios < thresholds.same_person_ratio) & (distances < thresholds.same_person_distance)
        for i, j in zip(*np.nonzero(close & ~held_out[None, :])):
            twins.append(SplitTwin(names[adults[rows[i]].key], names[adults[j].key], float(ratios[i, j])))
    return sorted(twins, key=lambda t: t.relative_distance)


def held_out_with_twin(twins: list[SplitTwin]) -> set[str]:
    """The validation faces that have at least one training-split twin: what `--fix` moves into training."""
    return {t.validation_name for t in twins}


def write_train_overrides(path: Path, names: set[str]) -> int:
    """Add `names` to the list of file names the split keeps in training; returns how many the list holds."""
    known = set(path.read_text().split()) if path.exists() else set()
    merged = sorted(known | names)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}\n" for name in merged))
    return len(merged)
