"""The measures that name directions: each moves the way its name says."""

import numpy as np

from aging_model.estimator.age_gender import Estimate
from aging_model.explore.face_measures import MEASURES, measure_faces


def _measure(crops, chip_landmarks, dense):
    n = len(crops)
    estimate = Estimate(np.full(n, 30.0, np.float32), np.full(n, 0.9, np.float32))
    return measure_faces(np.stack(crops), np.stack(chip_landmarks), np.stack(dense), estimate)


def test_every_measure_has_a_value_per_face_and_a_name_for_each_end(face, astronaut, detector):
    crop, dense = face
    marks = detector.detect(astronaut)[0].landmarks
    measured = _measure([crop], [marks], [dense])
    assert set(measured) == {m.key for m in MEASURES}
    assert all(np.isfinite(values).all() and values.shape == (1,) for values in measured.values())
    assert all(m.lower != m.higher for m in MEASURES)
    assert 1.5 < measured["face_width"][0] < 4 and 0.6 < measured["mouth_width"][0] < 2  # in eye distances
    assert abs(measured["yaw"][0]) < 0.3  # she faces the camera


def test_a_lighter_face_measures_lighter_and_a_grey_one_less_colourful(face):
    crop, dense = face
    lighter = np.clip(crop.astype(int) + 40, 0, 255).astype(np.uint8)
    grey = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    nan = np.full((5, 2), np.nan)
    measured = _measure([crop, lighter, grey], [nan] * 3, [dense] * 3)
    assert measured["face_brightness"][1] > measured["face_brightness"][0] + 30
    assert measured["background_brightness"][1] > measured["background_brightness"][0]
    assert measured["colourfulness"][2] < 1 < measured["colourfulness"][0]
    assert np.isnan(measured["yaw"]).all()  # no chip landmarks, no pose


def test_a_mirrored_face_turns_the_other_way(astronaut, detector):
    marks = detector.detect(astronaut)[0].landmarks
    mirrored = marks[[1, 0, 2, 4, 3]].copy()
    mirrored[:, 0] = astronaut.shape[1] - mirrored[:, 0]
    crop = np.zeros((128, 128, 3), np.uint8)
    dense = np.random.default_rng(0).uniform(20, 100, (68, 2))
    measured = _measure([crop, crop], [marks, mirrored], [dense, dense])
    assert np.isclose(measured["yaw"][0], -measured["yaw"][1])
