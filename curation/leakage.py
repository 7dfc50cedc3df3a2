"""Leakage between splits: one person in both the training and the validation split.

The split is fixed by a hash of the file name (`aging_model.data.is_validation`), so two photos of one person
usually land on different sides, and the validation MAE then measures partly memory. Twins are found with the
same relative rule as the `same_person` flag (`curation.duplicates.same_person_pairs`), on the embeddings the
per-image pass stored. The fix moves the validation side of every twin into training (a list of file names that
`is_validation` honours): validation shrinks a little and stays made of strangers to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.duplicates import ImageFeatures, same_person_pairs
from curation.flags import CurationThresholds


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
        if f.key in names and f.estimated_age is not None and f.estimated_age >= thresholds.same_person_min_age
    ]
    pairs = same_person_pairs(
        adults, thresholds.same_person_ratio, thresholds.same_person_neighbours, thresholds.same_person_distance
    )
    twins = []
    for a, b, ratio in pairs:
        side_a, side_b = is_validation(names[a]), is_validation(names[b])
        if side_a != side_b:
            held_out, trained = (a, b) if side_a else (b, a)
            twins.append(SplitTwin(names[held_out], names[trained], ratio))
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
