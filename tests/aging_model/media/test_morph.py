"""One person becoming another: the ends are the two people, the middle is both."""

from pathlib import Path

import numpy as np
import pytest

from aging_model.evaluation.identity import SAME_PERSON_DISTANCE, FaceEmbedder, identity_distance
from aging_model.media.morph import MorphFace, faces_to_morph, morph_frames, morph_outputs

OBAMA = Path(__file__).resolve().parents[3] / "docs" / "obama.jpg"


def test_the_ends_of_a_morph_are_the_faces_themselves_and_the_middle_is_between():
    rng = np.random.default_rng(0)
    marks = rng.uniform(100, 400, (68, 2))
    a = MorphFace(np.full((512, 512, 3), 40, np.uint8), marks)
    b = MorphFace(np.full((512, 512, 3), 200, np.uint8), marks + rng.normal(0, 5, (68, 2)))
    frames = morph_frames(a, b, frames=5)
    assert len(frames) == 5 and frames[0].shape == (512, 512, 3)
    assert np.abs(frames[0].astype(int) - 40).max() <= 1 and np.abs(frames[-1].astype(int) - 200).max() <= 1
    assert 110 <= frames[2].mean() <= 130


@pytest.fixture(scope="module")
def aged_pair(astronaut):
    from aging_model.caae.inference import AgingModel
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.pipeline import AgingPipeline

    pipeline = AgingPipeline(AgingModel.load(device="cpu"), estimator=AgeGenderEstimator.load(device="cpu"))
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "PNG")
    return faces_to_morph(pipeline, buffer.getvalue(), OBAMA.read_bytes(), age=40)


def test_a_morph_starts_as_person_a_and_ends_as_person_b(aged_pair):
    a, b = aged_pair
    frames = morph_frames(a, b, frames=9)
    embedder = FaceEmbedder()
    first, middle, last, own_a, own_b = embedder.embed_aligned(
        np.stack([frames[0], frames[4], frames[-1], a.resized(512).pixels, b.resized(512).pixels])
    )
    assert identity_distance(first, own_a) < 0.2 and identity_distance(last, own_b) < 0.2
    assert identity_distance(first, own_b) > SAME_PERSON_DISTANCE  # two different people
    assert identity_distance(middle, own_a) < identity_distance(first, own_b)  # the middle is closer to each


def test_the_outputs_are_a_video_a_gif_and_a_strip(aged_pair):
    from aging_model.media.animation import frames_and_seconds

    outputs = morph_outputs(*aged_pair, age=40, frames=11)
    assert set(outputs) == {"morph.mp4", "morph.gif", "morph-strip.jpg"}
    assert frames_and_seconds(outputs["morph.mp4"]) == (11, pytest.approx(1.1, abs=0.01))
    assert outputs["morph-strip.jpg"][:2] == b"\xff\xd8"
