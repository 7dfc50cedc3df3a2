"""The quality report: measurements per face and a named reason for each failed threshold."""

import cv2
import numpy as np
import pytest

from preprocessing.alignment import align_face
from preprocessing.detection import DetectedFace
from preprocessing.quality import (
    ANALYSIS_SIZE,
    QualityThresholds,
    assess_face,
    pose_from_landmarks,
    refusal_messages,
)


@pytest.fixture(scope="module")
def face(detector, astronaut):
    return detector.detect(astronaut)[0]


def _assess(face, pixels, **kwargs):
    return assess_face(face, align_face(pixels, face.landmarks, ANALYSIS_SIZE).pixels, **kwargs)


def test_the_astronaut_is_usable_and_measured(face, astronaut):
    report = _assess(face, astronaut)
    assert report.usable and report.reasons == [] and report.warnings == []
    assert report.detection_probability > 0.99 and report.face_size_px > 80
    assert report.sharpness > 100 and 60 < report.brightness < 200
    assert abs(report.yaw) < 0.2 and abs(report.roll_degrees) < 15
    assert set(report.to_dict()) >= {"sharpness", "brightness", "yaw", "pitch", "usable", "reasons"}


def test_a_blurred_face_is_aged_with_a_warning(face, astronaut):
    report = _assess(face, cv2.GaussianBlur(astronaut, (0, 0), 3))
    assert report.usable and "blurred" in report.warnings and report.reasons == []


def test_dark_and_bright_faces_are_aged_with_a_warning(face, astronaut):
    dark = _assess(face, (astronaut * 0.15).astype(np.uint8))
    assert dark.usable and "underexposed" in dark.warnings
    bright = np.clip(astronaut.astype(int) + 170, 0, 255).astype(np.uint8)
    assert {"overexposed", "clipped_exposure"} & set(_assess(face, bright).warnings)


def test_a_black_and_white_photo_is_a_warning_not_a_refusal(face, astronaut):
    gray = np.repeat(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    report = _assess(face, gray)
    assert report.usable and report.warnings == ["grayscale"]


def test_a_small_face_in_the_original_photo_is_named(face, astronaut):
    # The working copy was reduced 8x from the user's photo: the face is measured in the user's pixels.
    assert not _assess(face, astronaut, photo_scale=1.0).reasons
    tiny = DetectedFace(box=face.box, probability=face.probability, landmarks=face.landmarks)
    assert "face_too_small" in _assess(tiny, astronaut, photo_scale=4.0).reasons


@pytest.mark.parametrize("face_px", [32, 45])
def test_a_small_face_in_focus_is_sharp_and_a_blurred_one_is_not(detector, astronaut, face_px):
    # Enlarged to the 128 px analysis crop every small face is soft; measured at its own size it is not.
    small = cv2.resize(astronaut, None, fx=face_px / 88, fy=face_px / 88, interpolation=cv2.INTER_AREA)
    [face] = detector.detect(small)
    assert _assess(face, small).warnings == []
    assert "blurred" in _assess(face, cv2.GaussianBlur(small, (0, 0), 2)).warnings


def test_each_refusal_comes_with_a_sentence_for_the_user(face, astronaut):
    doubtful_and_small = DetectedFace(box=face.box, probability=0.6, landmarks=face.landmarks)
    report = _assess(doubtful_and_small, astronaut, photo_scale=4.0)
    messages = refusal_messages(report)
    assert list(messages) == report.reasons == ["low_detection_probability", "face_too_small"]
    assert "22 px" in messages["face_too_small"] and "28 px" in messages["face_too_small"]
    assert refusal_messages(_assess(face, astronaut)) == {}


def test_a_doubtful_detection_is_named(face, astronaut):
    doubtful = DetectedFace(box=face.box, probability=0.6, landmarks=face.landmarks)
    assert "low_detection_probability" in _assess(doubtful, astronaut).reasons


def test_pose_is_frontal_for_a_symmetric_face_and_turned_when_the_nose_is_aside():
    frontal = np.array([[30, 40], [70, 40], [50, 63], [34, 80], [66, 80]], float)
    yaw, pitch, roll = pose_from_landmarks(frontal)
    assert abs(yaw) < 0.01 and abs(pitch) < 0.05 and abs(roll) < 0.01
    turned = frontal.copy()
    turned[2, 0] += 28  # the nose far to one side: a profile
    assert pose_from_landmarks(turned)[0] > QualityThresholds().max_yaw


def test_an_extreme_pose_is_named(face, astronaut):
    marks = face.landmarks.copy()
    eye_distance = marks[1, 0] - marks[0, 0]
    marks[2, 0] += 0.6 * eye_distance
    profile = DetectedFace(box=face.box, probability=face.probability, landmarks=marks)
    assert "extreme_pose" in assess_face(profile, align_face(astronaut, face.landmarks, ANALYSIS_SIZE).pixels).reasons


def test_thresholds_are_configuration(face, astronaut):
    strict = QualityThresholds(min_sharpness=1e9, min_face_px=1e9)
    report = _assess(face, astronaut, thresholds=strict)
    assert "blurred" in report.warnings and "face_too_small" in report.reasons
