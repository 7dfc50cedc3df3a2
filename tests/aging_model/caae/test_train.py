import csv
import math

import pytest
import torch

from aging_model.caae.config import ModelConfig, TrainConfig
from aging_model.caae.inference import AgingModel
from aging_model.caae.train import Batch, TrainState, train, train_step


def _config(tiny_utkface, tmp_path, epochs):
    return TrainConfig(
        data=str(tiny_utkface),
        out=str(tmp_path / "run"),
        cache_dir=str(tmp_path / "cache"),
        model=ModelConfig(resolution=32, width=8),
        epochs=epochs,
        batch_size=4,
        device="cpu",
        threads=1,
    )


def _losses(run):
    with open(run / "losses.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_few_real_training_steps_give_finite_losses_and_every_artefact(tiny_utkface, tmp_path):
    weights = train(_config(tiny_utkface, tmp_path, epochs=1))
    run = tmp_path / "run"
    rows = _losses(run)
    assert rows and all(math.isfinite(float(v)) for row in rows for k, v in row.items())
    for artefact in ["config.json", "checkpoint.pt", "losses.png", "samples/epoch-001.jpg", "model.json"]:
        assert (run / artefact).exists(), artefact
    model = AgingModel.load(weights, device="cpu")
    assert model.resolution == 32 and model.card["epochs"] == 1


def test_training_resumes_from_its_checkpoint(tiny_utkface, tmp_path):
    train(_config(tiny_utkface, tmp_path, epochs=1))
    first = torch.load(tmp_path / "run/checkpoint.pt", weights_only=True)
    train(_config(tiny_utkface, tmp_path, epochs=2))
    second = torch.load(tmp_path / "run/checkpoint.pt", weights_only=True)
    # The format of every checkpoint written so far, which older runs resume from.
    assert set(first) == {"networks", "opt_eg", "opt_d", "epoch", "step", "hours", "config"}
    assert (first["epoch"], second["epoch"]) == (1, 2)
    assert second["step"] == 2 * first["step"]
    steps = [int(row["step"]) for row in _losses(tmp_path / "run")]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert (tmp_path / "run/samples/epoch-002.jpg").exists()


def test_a_training_step_updates_the_state_and_refuses_faces_of_another_resolution():
    config = TrainConfig(model=ModelConfig(resolution=32, width=8), device="cpu")
    state = TrainState.start(config, "cpu")
    before = state.nets.generator.to_rgb.weight.clone()
    groups = torch.tensor([0, 4, 9])
    age, gender = torch.eye(10)[groups], torch.eye(2)[[0, 1, 0]]
    values = train_step(state, Batch(torch.rand(3, 3, 32, 32) * 2 - 1, age, gender, groups), config)
    assert state.step == 1 and all(math.isfinite(v) for v in values.values())
    assert not torch.equal(before, state.nets.generator.to_rgb.weight)
    with pytest.raises(AssertionError, match=r"faces should have shape \(3, 3, 32, 32\), got \(3, 3, 64, 64\)"):
        train_step(state, Batch(torch.zeros(3, 3, 64, 64), age, gender, groups), config)
