"""The age judge: its head learns ages from descriptors, trains end to end on real chips, and reads real faces."""

import numpy as np
import pytest

from aging_model.data import LabelledFace
from aging_model.evaluation.age_judge import (
    DEFAULT_AGE_JUDGE_PATH,
    AgeJudge,
    AgeJudgeConfig,
    fit_head,
    reading_metrics,
    train_age_judge,
    training_sample,
)
from preprocessing.alignment import align_face


def test_the_head_learns_log_age_from_descriptors():
    rng = np.random.default_rng(0)
    descriptors = rng.normal(size=(1100, 128)).astype(np.float32)
    ages = np.expm1(2.0 + 0.6 * descriptors[:, 0] - 0.3 * descriptors[:, 1]).clip(0, 100)
    config = AgeJudgeConfig(hidden=32, epochs=600, lr=1e-2, weight_decay=1e-3)  # a small problem, a small head
    judge = AgeJudge(fit_head(descriptors[:1000], ages[:1000], config))
    readings = judge.read_descriptors(descriptors[1000:])
    error, guess = np.abs(readings - ages[1000:]).mean(), np.abs(np.median(ages) - ages[1000:]).mean()
    assert error < 0.3 * guess  # the median age for everyone misses by more than three times as much


def test_reading_metrics_give_mae_per_group_and_real_faces_of_the_probe_ages():
    ages = np.array([3, 3, 8, 45, 75])
    metrics = reading_metrics(np.array([5, 7, 8, 40, 70]), ages)
    assert metrics["mae"] == pytest.approx((2 + 4 + 0 + 5 + 5) / 5)
    assert metrics["per_group"][0] == {"group": "0-5", "faces": 2, "mae": 3.0}
    probes = {p["age"]: p for p in metrics["real_faces_read_as"]}
    assert probes[3]["mean_reading"] == 6.0 and probes[13]["faces"] == 0 and probes[13]["mean_reading"] is None


def test_the_training_sample_caps_each_year_of_age():
    faces = [LabelledFace(path=None, age=age, gender=0, race=0) for age in [26] * 50 + [3] * 4]
    chosen = training_sample(faces, per_age_cap=10, seed=1)
    assert sum(f.age == 26 for f in chosen) == 10 and sum(f.age == 3 for f in chosen) == 4


def test_training_on_real_chips_writes_weights_that_read_faces(tiny_utkface, tmp_path, astronaut, detector):
    out = tmp_path / "judge.safetensors"
    info = train_age_judge(tiny_utkface, out, tmp_path / "cache", AgeJudgeConfig(epochs=50, validation_percent=50))
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert info["training_faces"] + info["validation_faces"] == 12 and info["validation"]["mae"] is not None
    assert (tmp_path / "cache").glob("judge-descriptors-*.npz")
    crop = align_face(astronaut, detector.detect(astronaut)[0].landmarks, 192).pixels
    [age] = AgeJudge.load(out).read(crop[None])
    assert 0 <= age <= 116


def test_the_shipped_judge_reads_the_astronaut_as_an_adult(astronaut, detector):
    judge = AgeJudge.load(DEFAULT_AGE_JUDGE_PATH)
    crop = align_face(astronaut, detector.detect(astronaut)[0].landmarks, 192).pixels
    [age] = judge.read(crop[None])
    assert 25 <= age <= 50  # Eileen Collins was about 36 in the portrait
    assert judge.info["validation"]["mae"] < 8
