"""The age and gender estimator: its network, a real (tiny) training run, weights, and the shipped model."""

import numpy as np
import pytest
import torch
from PIL import Image

from aging_model.estimator.age_gender import (
    DEFAULT_ESTIMATOR_PATH,
    MAX_AGE,
    AgeGenderEstimator,
    AgeGenderNet,
    EstimatorConfig,
    EstimatorTrainConfig,
    estimator_loss,
    expected_age,
    save_estimator,
    train_estimator,
)


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_the_network_gives_an_age_distribution_and_a_gender_logit(resolution):
    net = AgeGenderNet(EstimatorConfig(resolution=resolution, width=8, feature_dim=64))
    age_logits, gender_logit = net(torch.zeros(2, 3, resolution, resolution))
    assert age_logits.shape == (2, MAX_AGE + 1) and gender_logit.shape == (2,)
    assert net.features(torch.zeros(2, 3, resolution, resolution)).shape == (2, 64)


def test_the_expected_age_of_a_peaked_distribution_is_its_peak():
    logits = torch.full((1, MAX_AGE + 1), -50.0)
    logits[0, 37] = 50.0
    assert expected_age(logits).item() == pytest.approx(37, abs=1e-3)


def test_the_loss_is_finite_and_prefers_the_right_age():
    torch.manual_seed(0)
    net = AgeGenderNet(EstimatorConfig(resolution=32, width=8, feature_dim=32))
    faces = torch.rand(4, 3, 32, 32) * 2 - 1
    loss, parts = estimator_loss(
        net, faces, torch.tensor([5, 30, 60, 110]), torch.tensor([0, 1, 0, 1]), EstimatorTrainConfig()
    )
    assert torch.isfinite(loss) and set(parts) == {"age_ce", "age_l1", "gender_bce"}


def test_a_real_training_run_writes_weights_history_and_a_plot(tiny_utkface, tmp_path):
    config = EstimatorTrainConfig(
        data=str(tiny_utkface),
        out=str(tmp_path / "run"),
        cache_dir=str(tmp_path / "cache"),
        model=EstimatorConfig(resolution=32, width=8, feature_dim=32),
        epochs=2,
        batch_size=4,
        device="cpu",
        validation_percent=30,
    )
    weights, metrics = train_estimator(config)
    assert weights.is_file() and (tmp_path / "run" / "history.png").is_file()
    assert np.isfinite(metrics["val_age_mae"]) and 0 <= metrics["val_gender_accuracy"] <= 1
    estimator = AgeGenderEstimator.load(weights, device="cpu")
    crops = np.random.default_rng(0).integers(0, 255, (3, 48, 48, 3), dtype=np.uint8)  # resized to 32 inside
    estimate = estimator.estimate(crops)
    assert estimate.ages.shape == (3,) and ((estimate.ages >= 0) & (estimate.ages <= MAX_AGE)).all()
    assert ((estimate.female_probability >= 0) & (estimate.female_probability <= 1)).all()
    assert estimator.features(crops).shape == (3, 32)


def test_weights_round_trip_in_half_precision(tmp_path):
    torch.manual_seed(0)
    config = EstimatorConfig(resolution=32, width=8, feature_dim=32)
    net = AgeGenderNet(config).eval()
    save_estimator(tmp_path / "e.safetensors", net, config, {"epochs": 0})
    loaded = AgeGenderEstimator.load(tmp_path / "e.safetensors", device="cpu")
    crops = np.random.default_rng(1).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    exact = AgeGenderEstimator(net, config, {}, torch.device("cpu")).estimate(crops)
    assert np.allclose(loaded.estimate(crops).ages, exact.ages, atol=0.2)


def test_a_file_that_is_not_an_estimator_is_refused(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a Faceage age and gender estimator"):
        AgeGenderEstimator.load(tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError):
        AgeGenderEstimator.load(tmp_path / "missing.safetensors")


@pytest.fixture(scope="module")
def shipped():
    return AgeGenderEstimator.load(DEFAULT_ESTIMATOR_PATH, device="cpu")


def test_the_shipped_estimator_reads_the_astronaut(shipped, astronaut, detector):
    from preprocessing.alignment import align_face

    crop = align_face(astronaut, detector.detect(astronaut)[0].landmarks, 64).pixels
    estimate = shipped.estimate(crop[None])
    # Eileen Collins was in her late thirties in this NASA portrait.
    assert 25 <= estimate.ages[0] <= 50
    assert estimate.female_probability[0] > 0.5
    assert shipped.card["metrics"]["val_age_mae"] < 8


def test_the_shipped_estimator_on_held_out_utkface_faces(shipped, utkface_dir, detector):
    """Dataset scale: 300 validation-split chips (never trained on, every third by name), aligned as in training."""
    from aging_model.data import index_folder, is_validation
    from preprocessing.alignment import align_face

    faces = [f for f in index_folder(utkface_dir).faces if is_validation(f.path.name)][::3][:300]  # all ages
    crops, ages, genders = [], [], []
    chips = [np.asarray(Image.open(f.path).convert("RGB")) for f in faces]
    for start in range(0, len(chips), 50):
        for face, chip, found in zip(
            faces[start : start + 50], chips[start : start + 50], detector.detect_batch(chips[start : start + 50])
        ):
            if found:
                best = max(found, key=lambda f: f.probability)
                crops.append(align_face(chip, best.landmarks, 64).pixels)
                ages.append(min(face.age, MAX_AGE))
                genders.append(face.gender)
    estimate = shipped.estimate(np.stack(crops))
    mae = np.abs(estimate.ages - np.array(ages)).mean()
    accuracy = ((estimate.female_probability > 0.5) == np.array(genders, bool)).mean()
    print(f"held-out sample: age MAE {mae:.2f} years, gender accuracy {accuracy:.3f} on {len(crops)} faces")
    assert mae < 7 and accuracy > 0.85
