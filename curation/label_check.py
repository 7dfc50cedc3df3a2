"""The out-of-fold label check: each image's age and gender read by an estimator that never saw it.

An estimator trained on the whole dataset has partly learned its labels, wrong ones included, so it agrees
with them. Cross-fitting avoids that: the faces are split into K folds, K estimators are each trained on
K-1 folds, and each face is read by the one that left its fold out. Photos that the dataset-wide pass found
to show the same person (or a near copy) share a fold, so a person's other photos do not teach the estimator
that person's label.

How far is too far depends on the age: the estimator reads a 4-year-old within a year or two and an
80-year-old within ten. An age label is an outlier when its error is beyond `age_error_multiple` times the
out-of-fold mean error of its own age group. A gender label is questioned only where the out-of-fold reading
is this sure of the other gender, and only in age groups where the reading is usually right: faces of young
children do not show gender reliably, so there a disagreement is no evidence.

Given race labels, an age label is judged against faces of its own age group, gender and race label (where
that cell holds at least MIN_CELL_FACES faces): the cell's typical offset between label and reading is taken
out first, and the tolerance is the cell's own error around it. An estimator that reads one group's faces
five years older than their labels would otherwise flag that group's faces for how the group looks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from aging_model.age_groups import GROUP_LABELS, N_AGE_GROUPS, age_to_group
from curation.flags import CurationThresholds, Flag, flag

MAX_PERSON_GROUP = 50  # photos; UTKFace's most photographed people appear a few dozen times
MIN_CELL_FACES = 30  # an age group x gender x race label cell needs this many faces to set its own offset and error


@dataclass(frozen=True)
class OutOfFold:
    """Each face's out-of-fold reading, in the order the faces were given."""

    ages: np.ndarray  # (N,) years
    female_probability: np.ndarray  # (N,)
    folds: np.ndarray  # (N,) the fold each face was held out in


@dataclass(frozen=True)
class GroupError:
    """How well the out-of-fold reading does within one labelled age group."""

    faces: int
    age_mae: float
    gender_accuracy: float | None  # None when no face of the group has a gender label

    def as_dict(self) -> dict:
        return {
            "faces": self.faces,
            "age_mae": round(self.age_mae, 2),
            "gender_accuracy": None if self.gender_accuracy is None else round(self.gender_accuracy, 4),
        }


def assign_folds(group_keys: list[str], folds: int) -> np.ndarray:
    """A stable fold per face from its group key: the same data always splits the same way."""
    return np.array([int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % folds for key in group_keys])


def person_groups(keys: list[int], pairs: list[tuple[int, int]], max_group: int = MAX_PERSON_GROUP) -> dict[int, int]:
    """Groups of 'same person or near copy' pairs: key -> the smallest key of its group.

    Pairs come strongest first. A union that would make a group larger than `max_group` is skipped: among
    tens of thousands of pairs a few wrong matches chain strangers into one giant group (on UTKFace,
    unbounded, 4,795 photos), which would put a fifth of the data in one fold.
    """
    parent = {key: key for key in keys}
    size = dict.fromkeys(keys, 1)

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in pairs:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb and size[ra] + size[rb] <= max_group:
                small, large = max(ra, rb), min(ra, rb)
                parent[small] = large
                size[large] += size[small]
    return {key: root(key) for key in keys}


def cross_fit(
    chips: np.ndarray, ages: np.ndarray, genders: np.ndarray, trainable: np.ndarray, folds: np.ndarray, config, device
) -> OutOfFold:
    """Train one estimator per fold on the other folds' trainable faces and read the fold's faces with it.

    chips: (N, R, R, 3) uint8 faces aligned like the estimator's training faces; ages, genders: labels
    (-1 where unknown); trainable: which faces may teach (labelled, not rejected by a curator);
    config: an `aging_model.estimator.age_gender.EstimatorTrainConfig`.
    """
    import torch

    from aging_model.data import FaceTensors
    from aging_model.estimator.age_gender import AgeGenderEstimator, fit_estimator

    torch.manual_seed(config.seed)
    predicted_ages = np.zeros(len(chips), np.float32)
    female = np.zeros(len(chips), np.float32)
    for fold in np.unique(folds):
        teach = np.flatnonzero(trainable & (folds != fold))
        if len(teach) < config.batch_size:
            raise ValueError(f"fold {fold} leaves only {len(teach)} labelled faces to train on; use fewer folds")
        train_set = FaceTensors(
            images=torch.from_numpy(chips[teach]).permute(0, 3, 1, 2).contiguous(),
            ages=torch.from_numpy(ages[teach].astype(np.int64)),
            genders=torch.from_numpy(genders[teach].astype(np.int64)),
            names=[str(i) for i in teach],
        )
        net, _ = fit_estimator(
            train_set, None, config, torch.device(device), desc=f"fold {fold + 1}/{len(np.unique(folds))}"
        )
        held_out = np.flatnonzero(folds == fold)
        reading = AgeGenderEstimator(net, config.model, {}, torch.device(device)).estimate(chips[held_out])
        predicted_ages[held_out], female[held_out] = reading.ages, reading.female_probability
    return OutOfFold(predicted_ages, female, folds)


def group_errors(ages: np.ndarray, genders: np.ndarray, reading: OutOfFold, max_age: float) -> dict[int, GroupError]:
    """Out-of-fold age MAE and gender accuracy per labelled age group (labels past `max_age` count as it)."""
    errors = {}
    groups = _groups(ages)
    for group in range(N_AGE_GROUPS):
        members = (groups == group) & (ages >= 0)
        if not members.any():
            continue
        mae = float(np.mean(np.abs(np.minimum(ages[members], max_age) - reading.ages[members])))
        gendered = members & (genders >= 0)
        accuracy = None
        if gendered.any():
            accuracy = float(np.mean((reading.female_probability[gendered] > 0.5) == (genders[gendered] == 1)))
        errors[group] = GroupError(int(members.sum()), mae, accuracy)
    return errors


@dataclass(frozen=True)
class CellError:
    """How the out-of-fold reading does on one age group's faces of one gender and race label."""

    faces: int
    offset: float  # the median of label - reading: how much older the labels run than the reading here
    age_mae: float  # the mean |label - reading - offset|


def cell_errors(
    ages: np.ndarray,
    genders: np.ndarray,
    races: np.ndarray,
    reading: OutOfFold,
    max_age: float,
    min_faces: int = MIN_CELL_FACES,
) -> dict[tuple[int, int, int], CellError]:
    """Per (age group, gender, race label) cell with at least `min_faces` fully labelled faces, its error."""
    groups = _groups(ages)
    residual = np.minimum(ages, max_age) - reading.ages
    labelled = (ages >= 0) & (genders >= 0) & (races >= 0)
    cells = {}
    for key in {(int(g), int(s), int(r)) for g, s, r in zip(groups[labelled], genders[labelled], races[labelled])}:
        members = labelled & (groups == key[0]) & (genders == key[1]) & (races == key[2])
        if members.sum() < min_faces:
            continue
        offset = float(np.median(residual[members]))
        cells[key] = CellError(int(members.sum()), offset, float(np.mean(np.abs(residual[members] - offset))))
    return cells


def out_of_fold_label_flags(
    ages: np.ndarray,
    genders: np.ndarray,
    reading: OutOfFold,
    errors: dict[int, GroupError],
    max_age: float,
    thresholds: CurationThresholds = CurationThresholds(),
    races: np.ndarray | None = None,
) -> list[list[Flag]]:
    """The label flags of every face (see the module docstring for the rules); -1 marks an unknown label.

    With `races`, ages are judged within their age group, gender and race label (`cell_errors`) where the
    cell is large enough, and within their age group alone elsewhere."""
    t = thresholds
    groups = _groups(ages)
    cells = cell_errors(ages, genders, races, reading, max_age) if races is not None else {}
    result = []
    for i in range(len(ages)):
        flags = []
        group = errors.get(int(groups[i]))
        estimate, female = float(reading.ages[i]), float(reading.female_probability[i])
        cell = cells.get((int(groups[i]), int(genders[i]), int(races[i]))) if cells else None
        if ages[i] >= 0 and (group is not None or cell is not None):
            offset, mae = (cell.offset, cell.age_mae) if cell else (0.0, group.age_mae)
            tolerance = max(t.age_error_multiple * mae, t.min_age_tolerance)
            error = abs(min(float(ages[i]), max_age) - estimate - offset)
            if error > tolerance:
                flags.append(
                    flag(
                        "age_label_outlier",
                        error / tolerance,
                        label=int(ages[i]),
                        estimate=estimate,
                        tolerance=tolerance,
                        out_of_fold=True,
                        **({"offset": offset, "judged_within": "age group, gender and race"} if cell else {}),
                    )
                )
        readable_gender = group is not None and (group.gender_accuracy or 0.0) >= t.min_gender_accuracy
        if genders[i] >= 0 and readable_gender:
            opposite = female if genders[i] == 0 else 1 - female
            if opposite >= t.gender_confidence:
                score = (opposite - 0.5) / (t.gender_confidence - 0.5)
                flags.append(
                    flag(
                        "gender_label_disagrees",
                        score,
                        label=int(genders[i]),
                        female_probability=female,
                        out_of_fold=True,
                    )
                )
        result.append(flags)
    return result


def describe_group_errors(errors: dict[int, GroupError]) -> dict[str, dict]:
    return {GROUP_LABELS[group]: error.as_dict() for group, error in sorted(errors.items())}


def _groups(ages: np.ndarray) -> np.ndarray:
    return np.array([age_to_group(a) if a >= 0 else -1 for a in ages])
