"""Named directions: principal components of codes, named by what they go with, and latents steered along them."""

import numpy as np
import pytest

from aging_model.caae.inference import DEFAULT_MODEL_PATH
from aging_model.explore.directions import (
    DEFAULT_DIRECTIONS_PATH,
    file_digest,
    load_directions,
    name_directions,
    orient_and_name,
    principal_directions,
    save_directions,
)


@pytest.fixture(scope="module")
def shipped():
    return load_directions()


def _latents_with_known_axes(n=2000, seed=0):
    """Latents that vary most along dimension 3 (with brightness), then along dimension 7 (with nothing)."""
    rng = np.random.default_rng(seed)
    latents = rng.normal(0, 0.05, (n, 50))
    brightness = rng.normal(0, 1, n)
    latents[:, 3] += 0.5 * brightness
    latents[:, 7] += rng.normal(0, 0.3, n)
    measured = {
        "face_brightness": -brightness + rng.normal(0, 0.2, n),  # goes with dimension 3, against its sign
        "estimated_age": rng.normal(40, 10, n),  # goes with nothing
    }
    return latents, measured


def test_the_principal_directions_are_the_axes_the_codes_vary_along_most():
    latents, _ = _latents_with_known_axes()
    mean, components, shares = principal_directions(latents, 2)
    assert abs(components[0][3]) > 0.99 and abs(components[1][7]) > 0.99
    assert shares[0] > shares[1] > 0 and np.allclose(components @ components.T, np.eye(2), atol=1e-9)
    assert np.allclose(mean, latents.mean(axis=0))


def test_a_direction_is_named_after_what_it_goes_with_and_oriented_towards_more_of_it():
    latents, measured = _latents_with_known_axes()
    directions = orient_and_name(*principal_directions(latents, 2), latents, measured)
    bright, other = directions.directions
    assert (bright.name, bright.lower, bright.higher) == ("face brightness", "darker face", "lighter face")
    assert bright.correlation > 0.9
    scores = np.array([directions.scores(latent) for latent in latents])
    assert np.corrcoef(scores[:, 0], measured["face_brightness"])[0, 1] > 0.9  # positive: lighter
    assert other.name == "direction 2" and other.measure is None and other.correlation is None
    assert scores[:, 0].std() == pytest.approx(1.0, abs=0.01)  # scores are in spreads


def test_each_measure_names_one_direction_at_most_the_one_it_explains_best():
    rng = np.random.default_rng(1)
    signal = rng.normal(0, 1, 500)
    scores = np.column_stack([signal + rng.normal(0, 0.8, 500), signal + rng.normal(0, 0.2, 500)])
    names = name_directions(scores, {"yaw": signal})
    assert names[0] == (None, None)
    assert names[1][0].key == "yaw" and names[1][1] > 0.9


def test_a_weak_correlation_names_nothing():
    rng = np.random.default_rng(2)
    scores = rng.normal(0, 1, (500, 1))
    weak = 0.2 * scores[:, 0] + rng.normal(0, 1, 500)
    assert name_directions(scores, {"yaw": weak}) == [(None, None)]


def test_steering_sets_one_score_and_keeps_the_others(shipped):
    latent = np.random.default_rng(3).uniform(-0.5, 0.5, 50)
    before = shipped.scores(latent)
    steered = shipped.steer(latent, 1, 1.5)
    after = shipped.scores(steered)
    assert after[1] == pytest.approx(1.5, abs=0.02)
    assert np.allclose(np.delete(after, 1), np.delete(before, 1), atol=0.02)  # float16 storage rounds a little


def test_steering_stays_inside_the_latent_range_and_refuses_what_is_not_a_direction(shipped):
    steered = shipped.steer(np.full(50, 0.9), 0, 5.0)
    assert steered.min() >= -1 and steered.max() <= 1
    with pytest.raises(ValueError, match="directions"):
        shipped.steer(np.zeros(50), len(shipped.directions), 1.0)
    with pytest.raises(ValueError, match="finite"):
        shipped.steer(np.zeros(50), 0, float("nan"))


def test_the_shipped_basis_has_eight_orthonormal_named_directions_of_the_shipped_model(shipped):
    assert len(shipped.directions) == 8 and shipped.components.shape == (8, 50)
    assert np.allclose(shipped.components @ shipped.components.T, np.eye(8), atol=5e-3)
    names = [d.name for d in shipped.directions]
    assert len(set(names)) == 8
    assert "face brightness" in names  # the strongest evidence: r = 0.72 over 3000 training faces
    assert all(d.correlation is None or d.correlation >= 0.3 for d in shipped.directions)
    assert shipped.card["model_sha256"] == file_digest(DEFAULT_MODEL_PATH)
    assert shipped.card["faces"] >= 1000
    assert DEFAULT_DIRECTIONS_PATH.stat().st_size < 20_000


def test_a_basis_round_trips_through_its_file(shipped, tmp_path):
    path = tmp_path / "directions.safetensors"
    save_directions(path, shipped)
    again = load_directions(path)
    assert again.directions == shipped.directions and again.card == shipped.card
    assert np.allclose(again.components, shipped.components, atol=1e-3)


def test_a_file_that_is_not_a_basis_is_refused_with_its_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="latent directions"):
        load_directions(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="latent directions"):
        load_directions(tmp_path / "junk.safetensors")
