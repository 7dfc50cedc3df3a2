"""MTCNN detection on real faces, mapped back to the photo's own pixels."""

import cv2
import numpy as np


def test_the_astronaut_has_one_confident_face_with_plausible_landmarks(detector, astronaut):
    [face] = detector.detect(astronaut)
    assert face.probability > 0.99
    x1, y1, x2, y2 = face.box
    assert 150 < x1 < x2 < 300 and 50 < y1 < y2 < 250  # her face, not the flag or the suit
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert ((face.landmarks >= [x1, y1]) & (face.landmarks <= [x2, y2])).all()


def test_detection_on_a_large_photo_maps_back_to_its_pixels(detector, astronaut):
    [small] = detector.detect(astronaut)
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)  # detected on an 800 px copy
    [large] = detector.detect(big)
    assert np.allclose(large.box, small.box * 4, atol=16)
    assert np.allclose(large.landmarks, small.landmarks * 4, atol=12)


def test_a_photo_without_a_face_gives_no_faces(detector):
    rng = np.random.default_rng(0)
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    assert detector.detect(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) == []


def test_several_faces_are_found_largest_first_and_capped(detector, astronaut):
    crop = astronaut[:, 100:400]
    smaller = cv2.copyMakeBorder(cv2.resize(crop, (225, 384)), 0, 128, 0, 0, cv2.BORDER_REPLICATE)
    group = np.concatenate([crop, smaller, crop], axis=1)
    faces = detector.detect(group)
    assert len(faces) == 3
    assert faces[-1].size < faces[0].size * 0.85  # the reduced copy comes last
    assert len(detector.detect(group, max_faces=2)) == 2


def test_faces_below_the_minimum_size_are_ignored(detector, astronaut):
    tiny = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # face about 25 px
    assert detector.detect(tiny) == []
