import json

import pytest

from aging_model.caae.config import TrainConfig
from aging_model.caae.inference import DEFAULT_MODEL_PATH
from aging_model.caae.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_makes_a_valid_config_with_a_run_folder_of_its_own(name):
    config = PRESETS[name].config()
    assert isinstance(config, TrainConfig) and config.out == f"runs/{name}"
    assert PRESETS[name].summary and "\n" not in PRESETS[name].summary


def test_the_shipped_preset_is_the_recipe_in_the_shipped_models_card():
    card = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["card"]
    recipe = json.loads(PRESETS["shipped"].config().to_json())
    # The run was set for 40 epochs and stopped after the 10 the card counts; the run folder is not the recipe.
    assert recipe == card["train_config"] | {"epochs": card["epochs"], "out": "runs/shipped"}
    assert card["steps"] == card["epochs"] * (card["training_faces"] // recipe["batch_size"])


def test_the_paper_preset_is_the_caae_papers_setup_without_faceages_additions():
    config = PRESETS["paper-128"].config()
    assert (config.model.resolution, config.model.z_dim, config.model.width) == (128, 50, 64)
    assert (config.batch_size, config.epochs, config.lr, config.betas) == (100, 50, 2e-4, (0.5, 0.999))
    assert config.age_critic_weight == config.cross_age_weight == 0


def test_the_smoke_preset_takes_a_few_small_steps():
    config = PRESETS["smoke"].config()
    assert config.model.resolution == 32 and config.epochs * config.max_steps_per_epoch <= 5
    assert config.limit <= 64


def test_the_smoke_preset_trains_end_to_end(tiny_utkface, tmp_path):
    from aging_model.caae.inference import AgingModel
    from aging_model.caae.train import train

    here = {"data": str(tiny_utkface), "out": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache")}
    weights = train(PRESETS["smoke"].config().updated(here | {"device": "cpu", "threads": 1}))
    model = AgingModel.load(weights, device="cpu")
    assert model.resolution == 32 and model.card["epochs"] == 1 and 1 <= model.card["steps"] <= 5
    assert (tmp_path / "run" / "samples" / "epoch-001.jpg").is_file()
