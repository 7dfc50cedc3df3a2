import json
from pathlib import Path

import pytest

from aging_model.caae.config import ModelConfig, TrainConfig


def _write(path, content) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_a_config_file_sets_the_fields_it_names_and_the_rest_keep_their_defaults(tmp_path):
    path = _write(tmp_path / "run.json", {"epochs": 3, "lr": 1, "betas": [0.4, 0.9], "model": {"resolution": 128}})
    config = TrainConfig.load(path)
    assert (config.epochs, config.lr, config.betas) == (3, 1.0, (0.4, 0.9))
    assert config.model == ModelConfig(resolution=128)
    assert config.batch_size == TrainConfig().batch_size and config.model.width == ModelConfig().width


def test_a_config_file_applies_over_a_base_field_by_field(tmp_path):
    base = TrainConfig(epochs=50, batch_size=100, model=ModelConfig(resolution=128, width=64))
    config = TrainConfig.load(_write(tmp_path / "run.json", {"epochs": 2, "model": {"width": 16}}), base=base)
    assert (config.epochs, config.batch_size) == (2, 100)
    assert config.model == ModelConfig(resolution=128, width=16)


def test_a_runs_own_config_json_loads_back_as_the_same_config(tmp_path):
    config = TrainConfig(epochs=7, limit=100, model=ModelConfig(resolution=32, width=8), betas=(0.4, 0.99))
    assert TrainConfig.load(_write(tmp_path / "config.json", config.to_json())) == config


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epoch": 3}, "unknown field 'epoch' (did you mean 'epochs'?)"),
        ({"model": {"widht": 16}}, "unknown field 'model.widht' (did you mean 'model.width'?)"),
        ({"epochs": "3"}, 'epochs must be an integer, got "3"'),
        ({"epochs": 2.5}, "epochs must be an integer, got 2.5"),
        ({"batch_size": True}, "batch_size must be an integer, got true"),
        ({"lr": "fast"}, 'lr must be a number, got "fast"'),
        ({"betas": [0.5]}, "betas must be a list of 2 numbers, got [0.5]"),
        ({"data": None}, "data must be a string, got null"),
        ({"model": 64}, "model must be an object of model fields, got 64"),
        ({"model": {"resolution": 100}}, "resolution must be a power of two"),
        ({"model": {"n_age_groups": 5}}, "model.n_age_groups must be 10"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
    ],
)
def test_unknown_fields_and_wrong_values_are_refused_naming_the_file_and_the_field(tmp_path, settings, message):
    path = _write(tmp_path / "run.json", settings)
    with pytest.raises(ValueError) as refused:
        TrainConfig.load(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)


def test_optional_fields_take_null():
    assert TrainConfig().updated({"limit": None, "manifest": None, "threads": None}) == TrainConfig()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{epochs: 3}", "Expecting property name"), ("[1, 2]", "expected a JSON object"), (b"\xff\xfe", "decode")],
)
def test_a_file_that_is_no_json_object_is_refused(tmp_path, content, message):
    path = tmp_path / "run.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(ValueError, match=message):
        TrainConfig.load(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config file not found: .*missing\.json"):
        TrainConfig.load(tmp_path / "missing.json")
