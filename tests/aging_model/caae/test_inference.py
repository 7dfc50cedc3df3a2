import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from aging_model.caae.config import ModelConfig
from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel, save_serving_weights
from aging_model.caae.networks import Encoder, Generator


@pytest.fixture
def small_model_path(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)
    path = tmp_path / "small.safetensors"
    save_serving_weights(path, Encoder(config), Generator(config), config, {"epochs": 0})
    return path


def test_serving_weights_round_trip_with_their_config(small_model_path):
    model = AgingModel.load(small_model_path, device="cpu")
    assert model.config == ModelConfig(resolution=32, width=8)
    assert model.card == {"epochs": 0}
    assert small_model_path.with_suffix(".json").exists()


def test_half_precision_storage_renders_the_same_faces(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)
    encoder, generator = Encoder(config).eval(), Generator(config).eval()
    save_serving_weights(tmp_path / "m.safetensors", encoder, generator, config, {})
    crops = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    stored = AgingModel.load(tmp_path / "m.safetensors", device="cpu").age_faces(crops, [5, 80], [0.0, 1.0])
    exact = AgingModel(encoder, generator, config, {}, torch.device("cpu")).age_faces(crops, [5, 80], [0.0, 1.0])
    assert np.abs(stored.astype(int) - exact.astype(int)).max() <= 2


def test_a_safetensors_file_without_a_faceage_config_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not a Faceage model"):
        AgingModel.load(path)


def test_a_pickle_is_never_loaded_as_a_model(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"encoder": 1}, path)
    with pytest.raises(ValueError):
        AgingModel.load(path)


def test_a_missing_model_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        AgingModel.load(tmp_path / "nope.safetensors")


def test_every_face_is_rendered_at_every_age_in_one_call(small_model_path):
    model = AgingModel.load(small_model_path, device="cpu")
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    aged = model.age_faces(crops, [5, 33.3, 80], [0.0, 1.0, 0.5])
    assert aged.shape == (3, 3, 32, 32, 3) and aged.dtype == np.uint8


def test_the_default_model_ships_in_the_repository():
    model = AgingModel.load(DEFAULT_MODEL_PATH, device="cpu")
    assert DEFAULT_MODEL_PATH.stat().st_size < 50e6
    assert model.card["training_faces"] > 20000 and model.card["epochs"] >= 1


def test_the_default_model_visibly_changes_age_across_the_ten_groups(astronaut, detector):
    """The independent judge (the shipped age estimator, trained apart from the CAAE) reads the astronaut
    rendered at the ten groups: older and older across the adult groups, and far younger at 0-5 than at 71+."""
    from aging_model.age_groups import GROUP_CENTRES
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.evaluation.metrics import spearman
    from preprocessing.alignment import align_face

    model = AgingModel.load(DEFAULT_MODEL_PATH, device="cpu")
    estimator = AgeGenderEstimator.load(device="cpu")
    crop = align_face(astronaut, detector.detect(astronaut)[0].landmarks, model.resolution).pixels
    for female in (1.0, 0.0):
        aged = model.age_faces(crop[None], list(GROUP_CENTRES), [female])[0]
        read = estimator.estimate(aged).ages
        adult = read[4:]  # 21-30 ... 71+
        assert spearman(GROUP_CENTRES[4:], adult) >= 0.8, read
        assert adult[-1] - adult[0] >= 15, read
        assert read[-1] - read[0] >= 30, read
        # and in pixels, far beyond the zero difference two identical conditions give
        assert np.abs(aged[0].astype(np.float32) - aged[-1].astype(np.float32)).mean() > 12
