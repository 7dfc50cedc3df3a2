"""Face against neck, hair and skin colour, on the astronaut with known changes made to her."""

import cv2
import numpy as np
import pytest

from aging_model.evaluation.head_measures import (
    MIN_REGION_PIXELS,
    cheek_mask,
    hair_mask,
    head_measures,
    neck_mask,
    summarise_head_measures,
    to_lab,
)
from aging_model.evaluation.held_out import DETAIL_SIZE
from aging_model.prototypes.aging import AGING_PADDING
from preprocessing.alignment import align_face, padding_pixels

PAD = padding_pixels(DETAIL_SIZE, AGING_PADDING)
CROP_BOX = (PAD, PAD + DETAIL_SIZE, PAD, PAD + DETAIL_SIZE)  # as if the photo ended at the crop (a tight chip)


@pytest.fixture(scope="module")
def padded_face(astronaut, detector, landmarker):
    """The astronaut as the evaluation serves faces: 192 px with the aging margin, landmarks in that frame."""
    padded = align_face(astronaut, detector.detect(astronaut)[0].landmarks, DETAIL_SIZE, AGING_PADDING).pixels
    crop = np.ascontiguousarray(padded[PAD : PAD + DETAIL_SIZE, PAD : PAD + DETAIL_SIZE])
    return padded, landmarker.landmarks(crop) + PAD


def _inside(padded: np.ndarray, change) -> np.ndarray:
    """`padded` with `change` applied to the served crop only, as a renderer would."""
    out, served = padded.copy(), np.s_[PAD : PAD + DETAIL_SIZE, PAD : PAD + DETAIL_SIZE]
    out[served] = change(padded[served])
    return out


def test_the_regions_lie_where_the_landmarks_say(padded_face):
    padded, marks = padded_face
    cheeks, neck = cheek_mask(marks, padded.shape[:2]), neck_mask(marks, padded.shape[:2])
    rows, _ = np.nonzero(cheeks)
    assert cheeks.sum() > 1000 and marks[36:48, 1].mean() < rows.mean() < marks[48:60, 1].mean()
    assert neck.any() and np.nonzero(neck)[0].min() > marks[8, 1]  # below the chin
    hair = hair_mask(marks, to_lab(padded))
    assert hair.sum() >= MIN_REGION_PIXELS and np.nonzero(hair)[0].max() < marks[17:27, 1].min()  # above the brows


def test_a_chip_that_ends_at_the_chin_shows_no_neck(padded_face):
    padded, marks = padded_face
    chin = int(marks[8, 1])
    measures = head_measures(padded, padded, marks, photo=(0, padded.shape[1], 0, chin))
    assert measures["neck_pixels"] == 0 and np.isnan(measures["face_minus_neck_change"])


def test_the_neck_is_measured_below_a_chin_the_aging_lowers(padded_face):
    padded, marks = padded_face
    lowered = marks.copy()
    lowered[8, 1] += 10
    assert np.nonzero(neck_mask(marks, padded.shape[:2], lowered[8, 1]))[0].min() > marks[8, 1] + 10
    assert (neck_mask(marks, padded.shape[:2], marks[8, 1] - 10) == neck_mask(marks, padded.shape[:2])).all()


def test_an_unchanged_face_changes_nothing(padded_face):
    padded, marks = padded_face
    measures = head_measures(padded, padded, marks)  # her photo fills the whole frame
    for key in ("face_minus_neck_change", "skin_chroma_change", "hair_lightness_change", "hair_chroma_change"):
        assert measures[key] == pytest.approx(0.0, abs=1e-6)
    assert measures["face_minus_neck_before"] > 0  # her face is lighter than her dark collar


def test_a_darkened_face_on_an_unchanged_neck_is_a_face_against_neck_change(padded_face):
    padded, marks = padded_face
    darker = _inside(padded, lambda crop: (crop * 0.8).astype(np.uint8))
    measures = head_measures(padded, darker, marks)
    assert measures["face_minus_neck_change"] < -6  # the neck below her chin lies in the margin: unchanged
    assert measures["face_minus_neck_change"] == pytest.approx(measures["skin_lightness_change"], abs=1e-4)


def test_greyed_skin_loses_chroma_and_whitened_hair_gets_lighter_and_greyer(padded_face):
    padded, marks = padded_face
    grey = _inside(padded, lambda crop: cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB))
    assert head_measures(padded, grey, marks, CROP_BOX)["skin_chroma_change"] < -10
    hair = hair_mask(marks, to_lab(padded))
    white = padded.copy()
    white[hair] = (0.3 * white[hair] + 0.7 * 220).astype(np.uint8)
    measures = head_measures(padded, white, marks, CROP_BOX)
    assert measures["hair_lightness_change"] > 20 and measures["hair_chroma_change"] < -5
    assert measures["skin_chroma_change"] == pytest.approx(0.0, abs=1e-6)


def test_hair_is_measured_only_where_the_frame_shows_the_photo(padded_face):
    padded, marks = padded_face
    measures = head_measures(padded, padded, marks, CROP_BOX)
    assert 0 < measures["hair_patch_beyond_photo_share"] < 1  # the patch reaches above the box
    whole = head_measures(padded, padded, marks)
    assert whole["hair_pixels"] > measures["hair_pixels"]


def test_the_summary_counts_faces_over_the_face_against_neck_goal():
    nan = float("nan")
    faces = [
        {"face_minus_neck_change": -8.0, "neck_pixels": 90, "hair_pixels": 100, "hair_lightness_change": 5.0},
        {"face_minus_neck_change": 2.0, "neck_pixels": 90, "hair_pixels": 0, "hair_lightness_change": nan},
        {"face_minus_neck_change": nan, "neck_pixels": 0, "hair_pixels": 0, "hair_lightness_change": nan},
    ]
    summary = summarise_head_measures(faces, face_neck_goal=6.0)
    assert summary["face_minus_neck_mean_abs_change"] == 5.0 and summary["face_minus_neck_share_over_goal"] == 0.5
    assert summary["hair_lightness_change"] == 5.0 and summary["faces_with_hair_in_view"] == 1
    assert summary["faces_with_neck_in_view"] == 2 and summary["faces"] == 3
