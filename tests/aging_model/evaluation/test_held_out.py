"""The evaluation's measures on cases with known answers, and a whole (tiny) report from real components."""

import json

import numpy as np
import pytest
import torch

from aging_model.age_groups import GROUP_CENTRES
from aging_model.caae.config import ModelConfig
from aging_model.evaluation.held_out import DETAIL_SIZE, evaluate, group_mean_faces, load_held_out
from aging_model.evaluation.metrics import (
    age_metrics,
    detail_ratio,
    frechet_distance,
    identity_metrics,
    served_goals,
    spearman,
)
from aging_model.evaluation.report import write_report
from aging_model.prototypes.aging import PrototypeAger
from preprocessing.landmarks import DenseLandmarker


def test_rank_correlation_of_rising_falling_and_flat_ages():
    assert spearman(GROUP_CENTRES, GROUP_CENTRES**2) == pytest.approx(1.0)
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
    from aging_model.caae.inference import AgingModel
    from aging_model.caae.networks import Encoder, Generator
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.evaluation.identity import FaceEmbedder

    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)
    model = AgingModel(Encoder(config), Generator(config), config, {}, torch.device("cpu"))
    faces = load_held_out(tiny_utkface, tmp_path / "cache", 32, limit=6, validation_percent=50)
    assert faces.detail_crops.shape[1:] == (DETAIL_SIZE, DETAIL_SIZE, 3) and len(faces.detail_crops) == len(faces.crops)
    metrics, arrays = evaluate(
        model,
        AgeGenderEstimator.load(device="cpu"),
        FaceEmbedder(),
        faces,
        ager=PrototypeAger.load(),
        landmarker=DenseLandmarker(),
    )
    report = write_report(metrics, arrays, tmp_path / "report", "untrained")
    for name in (
        "metrics.json",
        "age_vs_target.png",
        "identity_per_group.png",
        "samples.jpg",
        "samples-served.jpg",
        "samples-served-caae.jpg",
        "failures.jpg",
    ):
        assert (tmp_path / "report" / name).is_file()
    assert "real faces read as" in report.read_text()
    stored = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert stored["faces"] == len(faces.crops) and set(stored["baselines"]) == {"input_itself", "group_mean_face"}
    assert stored["baselines"]["input_itself"]["identity"]["reconstruction_same_person_share"] == 1.0
    assert all(isinstance(v, bool) for v in stored["goals"].values())
    assert not stored["goals"]["mean rank correlation >= 0.9"]  # an untrained model does not age faces
    # The prototype renderer needs no training: its faces already follow the target age and keep their detail.
    assert stored["served"]["renderer"] == "prototypes" and stored["served_caae"]["renderer"] == "caae"
    assert stored["served"]["age"]["mean_rank_correlation"] > 0.8
    assert stored["served"]["detail_ratio"] > 0.8
    assert len(stored["real_readings"]) == 10 and set(stored["goals_served"]) == set(stored["goals_served_caae"])
    assert arrays["served"].shape == (len(faces.crops), 10, DETAIL_SIZE, DETAIL_SIZE, 3)
    assert arrays["served_caae"].shape == arrays["rendered"].shape
    assert "| 0-5 |" in report.read_text()


def test_the_detail_ratio_is_one_for_unchanged_faces_and_falls_with_blur(astronaut):
    import cv2

    faces = astronaut[None]
    assert detail_ratio(faces, faces[:, None]) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3)[None, None]
    assert detail_ratio(faces, blurred) < 0.3


def test_served_goals_compare_with_real_faces_of_each_age():
    readings = [4.0, 11.0, 17.0, 22.0, 28.0, 34.0, 43.0, 51.0, 60.0, 64.0]
    at_real = age_metrics(np.tile(readings, (5, 1)))
    measures = {"age": at_real, "identity": identity_metrics(np.full((5, 10), 0.3), np.full(5, 4)), "detail_ratio": 0.9}
    goals = served_goals(measures, readings)
    assert goals["adult targets read within 6 years of real faces of that age"]
    assert goals["target 3 reads <= 12 and target 8 <= 15"] and goals["keeps >= 80% of the input's fine detail"]
    timid = {**measures, "age": age_metrics(np.tile(np.array(readings) * 0.5 + 15, (5, 1)))}
    assert not served_goals(timid, readings)["adult targets read within 6 years of real faces of that age"]
