"""The explorer: a code is a face at any age and gender, the same bytes every time; photos come in as codes."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from aging_model.explore.explorer import DISPLAY_SIZE, MAX_SAMPLES, FaceExplorer
from aging_model.explore.latent import sample_codes
from preprocessing.alignment import align_face
from preprocessing.errors import NoUsableFace
from preprocessing.loading import load_photo
from preprocessing.quality import central_region

CODE = sample_codes(1, seed=11)[0]


@pytest.fixture(scope="module")
def explorer():
    return FaceExplorer.load()


@pytest.fixture(scope="module")
def astronaut_code(explorer, astronaut_jpeg):
    return explorer.code_of_photo(astronaut_jpeg)


def test_the_same_code_gives_the_same_png_bytes_every_time_and_in_a_fresh_explorer(explorer):
    first = explorer.face_png(CODE, 37.5, "female")
    assert explorer.face_png(CODE, 37.5, "female") == first
    assert FaceExplorer.load().face_png(CODE, 37.5, "female") == first
    assert np.asarray(Image.open(io.BytesIO(first))).shape == (DISPLAY_SIZE, DISPLAY_SIZE, 3)


def test_a_face_changes_with_age_continuously_and_with_gender(explorer):
    young, between, old = (explorer.render(CODE, age, "male").astype(int) for age in (20, 45, 70))
    assert np.abs(young - old).mean() > 3 * np.abs(young - explorer.render(CODE, 21, "male")).mean()
    assert np.abs(between - young).mean() < np.abs(old - young).mean()
    assert np.abs(explorer.render(CODE, 45, "female").astype(int) - between).mean() > 2


@pytest.mark.parametrize(
    ("age", "gender", "says"),
    [(-1, "male", "age"), (100.5, "male", "age"), (float("nan"), "male", "age"), (30, "other", "gender")],
)
def test_ages_outside_0_to_100_and_other_genders_are_refused(explorer, age, gender, says):
    with pytest.raises(ValueError, match=says):
        explorer.render(CODE, age, gender)


def test_best_of_n_ranks_best_first_and_the_same_seed_draws_the_same_faces(explorer):
    ranked = explorer.best_of(6, 30, "female", seed=4)
    scores = [face.judgement.score for face in ranked]
    assert len(ranked) == 6 and scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert sorted(face.code for face in ranked) == sorted(sample_codes(6, seed=4))
    assert [face.code for face in explorer.best_of(6, 30, "female", seed=4)] == [face.code for face in ranked]
    # the winner looks like what was asked for: a woman, read within the age tolerance
    best = ranked[0].judgement
    assert best.female_probability > 0.5 and abs(best.estimated_age - 30) < 20


@pytest.mark.parametrize("count", [0, MAX_SAMPLES + 1])
def test_best_of_n_takes_1_to_32_faces(explorer, count):
    with pytest.raises(ValueError, match="n must be"):
        explorer.best_of(count, 30, "female", seed=0)


def test_an_uploaded_face_renders_close_to_the_encoders_own_reconstruction(explorer, astronaut_jpeg, astronaut_code):
    found = astronaut_code
    assert 20 < found.estimated_age < 60 and found.gender == "female"
    photo = load_photo(astronaut_jpeg).pixels
    landmarks = explorer.photo_detector.detect(photo)[0].landmarks
    aligned = align_face(photo, landmarks, explorer.model.resolution).pixels
    age = found.estimated_age
    reconstruction = explorer.model.age_faces(aligned[None], [age], [1.0])[0, 0].astype(int)
    rendered = explorer.render(found.code, age, "female").astype(int)
    other = explorer.render(CODE, age, "female").astype(int)
    # The code's rounding changes little (2.3 levels on average over 500 training faces); another code is
    # another face.
    assert np.abs(rendered - reconstruction).mean() < 5
    assert np.abs(other - reconstruction).mean() > 3 * np.abs(rendered - reconstruction).mean()


def test_a_photo_without_a_face_has_no_code(explorer):
    wall = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 100, np.uint8)).save(wall, "PNG")
    with pytest.raises(NoUsableFace, match="no face"):
        explorer.code_of_photo(wall.getvalue())


def test_steering_the_face_brightness_direction_lightens_the_rendered_face(explorer):
    index = [d.name for d in explorer.directions.directions].index("face brightness")

    def brightness(code):
        return central_region(cv2.cvtColor(explorer.displayed(code, 40, "female"), cv2.COLOR_RGB2GRAY)).mean()

    darker, lighter = (explorer.steer(CODE, index, score) for score in (-2.0, 2.0))
    assert explorer.direction_scores(lighter)[index] == pytest.approx(2.0, abs=0.15)  # the code rounds a little
    assert explorer.direction_scores(darker)[index] == pytest.approx(-2.0, abs=0.15)
    assert brightness(lighter) > brightness(darker) + 20


def test_directions_built_for_another_model_are_flagged_and_another_latent_size_is_refused(tmp_path, caplog):
    import torch

    from aging_model.caae.config import ModelConfig
    from aging_model.caae.inference import save_serving_weights
    from aging_model.caae.networks import Encoder, Generator

    torch.manual_seed(0)
    for name, config in (("other", ModelConfig(resolution=32, width=8)), ("wide", ModelConfig(32, 8, z_dim=20))):
        save_serving_weights(tmp_path / f"{name}.safetensors", Encoder(config), Generator(config), config, {})
    with caplog.at_level("WARNING"):
        FaceExplorer.load(tmp_path / "other.safetensors")
    assert "built for another model" in caplog.text
    with pytest.raises(ValueError, match="50 digits"):
        FaceExplorer.load(tmp_path / "wide.safetensors")


def test_the_bytes_do_not_depend_on_how_many_threads_pytorch_uses(explorer):
    """Web processes differ in their thread pools (gunicorn, the development server, a test)."""
    import torch

    before = torch.get_num_threads()
    many = explorer.face_png(CODE, 52, "male")
    try:
        torch.set_num_threads(1)
        one = explorer.face_png(CODE, 52, "male")
    finally:
        torch.set_num_threads(before)
    assert one == many
