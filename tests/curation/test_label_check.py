"""The out-of-fold label check: folds, person groups, who trains on what, and when a label is questioned."""

from collections import Counter

import numpy as np
import pytest

from curation.label_check import (
    GroupError,
    OutOfFold,
    assign_folds,
    cross_fit,
    group_errors,
    out_of_fold_label_flags,
    person_groups,
)

MAX_AGE = 100


def test_folds_are_stable_balanced_and_follow_the_key():
    keys = [f"person-{i}" for i in range(3000)]
    folds = assign_folds(keys, 3)
    assert np.array_equal(folds, assign_folds(keys, 3))
    assert set(folds) == {0, 1, 2} and np.bincount(folds).min() > 900
    assert assign_folds(["person-7", "person-7"], 5)[0] == assign_folds(["person-7"], 5)[0]


def test_person_groups_join_matches_transitively_and_ignore_unknown_images():
    groups = person_groups([1, 2, 3, 4, 5], [(2, 4), (4, 5), (3, 99)])
    assert groups == {1: 1, 2: 2, 3: 3, 4: 2, 5: 2}


def test_a_chain_of_weak_matches_cannot_grow_a_group_past_its_limit():
    chain = [(i, i + 1) for i in range(1, 10)]  # strongest first: 1-2, 2-3, ...
    groups = person_groups(list(range(1, 11)), chain, max_group=4)
    assert sorted(Counter(groups.values()).values()) == [2, 4, 4]


def test_each_face_is_read_by_an_estimator_that_never_trained_on_it(monkeypatch):
    from aging_model.estimator.age_gender import EstimatorTrainConfig, fit_estimator

    taught = []

    def recording_fit(train_set, val_set, config, device, desc=""):
        taught.append({int(name) for name in train_set.names})
        return fit_estimator(train_set, val_set, config, device, desc=desc)

    monkeypatch.setattr("aging_model.estimator.age_gender.fit_estimator", recording_fit)
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    ages, genders = np.arange(12) * 5, np.arange(12) % 2
    trainable = np.ones(12, bool)
    trainable[3] = False  # e.g. rejected by a curator: read, but never taught
    folds = np.array([0, 1, 2] * 4)
    reading = cross_fit(chips, ages, genders, trainable, folds, EstimatorTrainConfig(epochs=1, batch_size=2), "cpu")
    assert len(taught) == 3
    for fold, seen in enumerate(taught):
        assert seen == {i for i in range(12) if folds[i] != fold and i != 3}
    assert reading.ages.shape == (12,) and np.array_equal(reading.folds, folds)


def test_too_few_faces_for_the_folds_is_a_clear_error():
    from aging_model.estimator.age_gender import EstimatorTrainConfig

    chips = np.zeros((4, 64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="use fewer folds"):
        cross_fit(
            chips, np.full(4, 30), np.zeros(4, int), np.ones(4, bool), np.arange(4), EstimatorTrainConfig(), "cpu"
        )


def _reading(ages, female):
    return OutOfFold(np.asarray(ages, np.float32), np.asarray(female, np.float32), np.zeros(len(ages), int))


def test_group_errors_cap_labels_at_the_oldest_age_the_estimator_reads():
    ages, genders = np.array([4, 4, 105, 80]), np.array([0, 1, 1, -1])
    errors = group_errors(ages, genders, _reading([5, 3, 90, 70], [0.2, 0.8, 0.3, 0.5]), MAX_AGE)
    assert errors[0] == GroupError(faces=2, age_mae=1.0, gender_accuracy=1.0)
    assert errors[9].age_mae == pytest.approx(10.0) and errors[9].gender_accuracy == 0.0


def test_an_age_label_is_questioned_against_its_own_groups_error():
    errors = {0: GroupError(100, 1.5, 0.6), 9: GroupError(100, 9.0, 0.95)}
    ages = np.array([3, 2, 80, 110, 75])
    reading = _reading([4, 31, 60, 85, 30], [0.5] * 5)
    flags = out_of_fold_label_flags(ages, np.full(5, -1), reading, errors, MAX_AGE)
    named = [[f.name for f in face] for face in flags]
    # A child read a year off is fine (the 5-year floor); a toddler read as 31 is not.
    assert named[0] == [] and named[1] == ["age_label_outlier"]
    # In 71+ the error is ~9 years, so 20 years off is within 3x; a 110 label is compared as 100.
    assert named[2] == [] and named[3] == []
    assert named[4] == ["age_label_outlier"] and flags[4][0].details["out_of_fold"] is True
    assert flags[1][0].score > flags[4][0].score  # 28 years off a tolerance of 5 beats 45 off 27


def test_gender_is_questioned_only_where_the_reading_is_reliable():
    errors = {0: GroupError(100, 1.5, 0.6), 5: GroupError(100, 5.0, 0.95)}
    ages, genders = np.array([3, 35, 35, 35]), np.array([0, 0, 0, 1])
    reading = _reading([3, 35, 35, 35], [0.99, 0.99, 0.7, 0.95])
    flags = out_of_fold_label_flags(ages, genders, reading, errors, MAX_AGE)
    named = [[f.name for f in face] for face in flags]
    assert named == [[], ["gender_label_disagrees"], [], []]


def _cell_faces(count, label, read, gender=1, race=2):
    return [label] * count, [read] * count, [gender] * count, [race] * count


def test_with_race_labels_a_groups_typical_reading_is_never_the_reason_for_an_age_flag():
    # 40 women labelled Asian, 25, all read as 32 (the estimator reads this group older), and 200 men labelled
    # White, 25, read as 26. Against the age group alone (tolerance 3 x 2.1 years) the women are 7 years off;
    # against their own cell they are typical. A woman of that cell read as 50 is still far off her cell.
    ages, read, genders, races = (
        np.array(a + b + c)
        for a, b, c in zip(
            _cell_faces(40, 25, 32.0), _cell_faces(200, 25, 26.0, gender=0, race=0), _cell_faces(1, 25, 50.0)
        )
    )
    reading = _reading(read, [0.5] * len(ages))
    errors = group_errors(ages, genders, reading, MAX_AGE)
    alone = out_of_fold_label_flags(ages, genders, reading, errors, MAX_AGE)
    within = out_of_fold_label_flags(ages, genders, reading, errors, MAX_AGE, races=races)
    assert sum(bool(f) for f in alone[:40]) == 40
    assert [bool(f) for f in within] == [False] * 240 + [True]
    assert within[240][0].details["offset"] == pytest.approx(-7.0)


def test_a_cell_too_small_to_judge_falls_back_to_its_age_group():
    ages, read, genders, races = (
        np.array(a + b) for a, b in zip(_cell_faces(5, 25, 32.0), _cell_faces(40, 25, 25.0, 0, 0))
    )
    reading = _reading(read, [0.5] * len(ages))
    errors = group_errors(ages, genders, reading, MAX_AGE)
    within = out_of_fold_label_flags(ages, genders, reading, errors, MAX_AGE, races=races)
    assert all(f and "offset" not in f[0].details for f in within[:5]) and not any(within[5:])
