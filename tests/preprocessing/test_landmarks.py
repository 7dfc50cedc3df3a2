"""Dense landmarks: dlib's 68 points on the aligned astronaut land on her features, at any crop size."""

import numpy as np
import pytest

from preprocessing.alignment import align_face
from preprocessing.landmarks import BROWS, JAW, LEFT_EYE, MOUTH, N_LANDMARKS, RIGHT_EYE, DenseLandmarker

NOSE_TIP = 30
CHIN = 8


@pytest.fixture(scope="module")
def landmarker() -> DenseLandmarker:
    return DenseLandmarker()


@pytest.fixture(scope="module")
def astronaut_landmarks(astronaut, detector):
    return detector.detect(astronaut)[0].landmarks


@pytest.fixture(scope="module")
def crop_and_marks(astronaut, astronaut_landmarks, landmarker):
    crop = align_face(astronaut, astronaut_landmarks, 256).pixels
    return crop, landmarker.landmarks(crop)


def test_the_68_points_fall_on_the_face_in_the_crop(crop_and_marks):
    """The chip framing is tight: the inner features lie inside the crop; the jaw line of this smiling face
    reaches a few pixels past the crop's sides and bottom (dlib extrapolates the outline), but not far."""
    crop, marks = crop_and_marks
    assert marks.shape == (N_LANDMARKS, 2) and marks.dtype == np.float32
    inner = marks[17:]
    assert (inner >= 0).all() and (inner <= 255).all()
    size = crop.shape[0]
    assert (marks[JAW] >= -0.05 * size).all() and (marks[JAW] <= 1.05 * size).all()
    # the face is centred: the jaw's ends are on either side of the middle, the chin near the middle
    assert marks[0, 0] < size / 4 and marks[16, 0] > 3 * size / 4
    assert abs(marks[CHIN, 0] - size / 2) < 0.1 * size


def test_eyes_are_above_the_nose_tip_which_is_above_the_mouth(crop_and_marks):
    _, marks = crop_and_marks
    eyes = np.concatenate([marks[LEFT_EYE], marks[RIGHT_EYE]])
    mouth = marks[48:68]
    assert eyes[:, 1].max() < marks[NOSE_TIP, 1] < mouth[:, 1].min()
    assert marks[BROWS][:, 1].mean() < eyes[:, 1].mean()
    assert mouth[:, 1].max() < marks[CHIN, 1]


def test_the_left_eye_is_left_of_the_right_eye(crop_and_marks):
    _, marks = crop_and_marks
    assert marks[LEFT_EYE][:, 0].max() < marks[NOSE_TIP, 0] < marks[RIGHT_EYE][:, 0].min()
    assert marks[48, 0] < marks[54, 0]  # mouth corners: image left, then image right
    assert marks[0, 0] < marks[MOUTH][:, 0].min() and marks[MOUTH][:, 0].max() < marks[16, 0]


def test_the_eyes_agree_with_the_five_point_alignment(crop_and_marks):
    """Aligned faces have their eye centres on the chip template (scaled to 256 px)."""
    from preprocessing.alignment import template_for

    _, marks = crop_and_marks
    template = template_for(256)
    assert np.linalg.norm(marks[LEFT_EYE].mean(axis=0) - template[0]) < 10
    assert np.linalg.norm(marks[RIGHT_EYE].mean(axis=0) - template[1]) < 10


def test_landmarks_scale_with_the_crop_size(astronaut, astronaut_landmarks, landmarker, crop_and_marks):
    _, large = crop_and_marks
    small = landmarker.landmarks(align_face(astronaut, astronaut_landmarks, 128).pixels)
    error = np.linalg.norm(small * 2 - large, axis=1)
    assert error.max() < 5 and error.mean() < 2
