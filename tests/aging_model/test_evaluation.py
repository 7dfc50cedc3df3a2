"""The evaluation's measures on cases with known answers, and a whole (tiny) report from real components."""

import json

import numpy as np
import pytest
import torch

from aging_model.age_groups import GROUP_CENTRES
from aging_model.config import ModelConfig
from aging_model.evaluation import (
    age_metrics,
    evaluate,
    frechet_distance,
    group_mean_faces,
    identity_metrics,
    load_held_out,
    spearman,
)
from aging_model.evaluation_report import write_report


def test_rank_correlation_of_rising_falling_and_flat_ages():
    assert spearman(GROUP_CENTRES, GROUP_CENTRES ** 2) == pytest.approx(1.0)
    assert spearman(GROUP_CENTRES, -GROUP_CENTRES) == pytest.approx(-1.0)
    assert spearman(GROUP_CENTRES, np.full(10, 30.0)) == 0.0


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(features, features + 2.0) == pytest.approx(8 * 4.0, rel=1e-3)


def test_a_perfect_age_judge_gives_perfect_age_metrics():
    metrics = age_metrics(np.tile(GROUP_CENTRES, (5, 1)))
    assert metrics["mean_rank_correlation"] == pytest.approx(1.0)
    assert metrics["monotonic"] and metrics["max_adult_group_error_years"] == 0
    assert all(g["share_in_target_group"] == 1.0 for g in metrics["per_group"])


def test_an_unchanged_face_has_no_rank_correlation():
    metrics = age_metrics(np.full((5, 10), 33.0))
    assert metrics["mean_rank_correlation"] == 0 and not metrics["monotonic"]


def test_identity_shares_use_the_own_group_and_its_neighbours():
    distances = np.full((2, 10), 0.9)
    distances[0, 3] = distances[1, 6] = 0.2  # reconstructions: same person
    distances[0, [1, 2, 4, 5]] = 0.5  # face 0 stays itself within two groups; face 1 does not
    metrics = identity_metrics(distances, own_groups=np.array([3, 6]))
    assert metrics["reconstruction_same_person_share"] == 1.0
    assert metrics["two_groups_same_person_share"] == pytest.approx(4 / 8)


def test_group_mean_faces_average_each_group():
    crops = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (10, 30, 200)])
    means = group_mean_faces(crops, np.array([3, 4, 80]))
    assert means.shape == (10, 4, 4, 3) and means[0].max() == 20 and means[9].max() == 200


def test_a_whole_report_from_real_components(tiny_utkface, tmp_path):
    from aging_model.estimator import AgeGenderEstimator
    from aging_model.identity import FaceEmbedder
    from aging_model.inference import AgingModel
    from aging_model.networks import Encoder, Generator

    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)
    model = AgingModel(Encoder(config), Generator(config), config, {}, torch.device("cpu"))
    faces = load_held_out(tiny_utkface, tmp_path / "cache", 32, limit=6, validation_percent=50)
    metrics, arrays = evaluate(model, AgeGenderEstimator.load(device="cpu"), FaceEmbedder(), faces)
    report = write_report(metrics, arrays, tmp_path / "report", "untrained")
    for name in ("metrics.json", "age_vs_target.png", "identity_per_group.png", "samples.jpg", "samples-served.jpg", "failures.jpg"):
        assert (tmp_path / "report" / name).is_file()
    stored = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert stored["faces"] == len(faces.crops) and set(stored["baselines"]) == {"input_itself", "group_mean_face"}
    assert stored["baselines"]["input_itself"]["identity"]["reconstruction_same_person_share"] == 1.0
    assert all(isinstance(v, bool) for v in stored["goals"].values())
    assert not stored["goals"]["mean rank correlation >= 0.9"]  # an untrained model does not age faces
    assert set(stored["goals_served"]) == set(stored["goals"])
    assert arrays["served"].shape == arrays["rendered"].shape
    assert "| 0-5 |" in report.read_text()
