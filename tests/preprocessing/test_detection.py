"""MTCNN detection on real faces, mapped back to the photo's own pixels."""

import cv2
import numpy as np
import pytest


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


def test_faces_below_the_minimum_size_are_ignored(astronaut):
    from preprocessing.detection import FaceDetector

    tiny = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # face about 22 px
    assert len(FaceDetector(min_face_px=16).detect(tiny)) == 1
    assert FaceDetector(min_face_px=30).detect(tiny) == []


def test_every_small_face_of_a_group_photo_is_found_down_to_20_px(detector, group_photo):
    pixels, centres = group_photo([34, 36, 32, 35, 20, 34])
    faces = detector.detect(pixels, max_faces=None)
    assert len(faces) == 6 and min(face.probability for face in faces) > 0.99
    for x, y in centres:  # one box around each face
        assert sum(x1 <= x <= x2 and y1 <= y <= y2 for x1, y1, x2, y2 in (face.box for face in faces)) == 1
    assert 17 < faces[-1].size < 23


def test_a_photo_without_a_face_has_none_even_at_small_sizes(detector):
    from skimage import data

    for photo in (data.coffee(), data.chelsea(), data.rocket()):
        assert detector.detect(photo) == []


def test_only_photos_with_small_faces_pay_for_the_fine_pass(detector, astronaut, group_photo, monkeypatch):
    sizes = []  # MTCNN's minimum face size at each of its runs
    run = detector._mtcnn.detect
    monkeypatch.setattr(
        detector._mtcnn, "detect", lambda *a, **k: sizes.append(detector._mtcnn.min_face_size) or run(*a, **k)
    )
    detector.detect(cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC))
    assert len(sizes) == 1  # the quick pass on an 800 px copy finds her large face: done
    sizes.clear()
    detector.detect(group_photo([34, 36, 32, 35])[0])
    assert len(sizes) == 2 and sizes[1] < sizes[0]  # then a pass that sees smaller faces


@pytest.mark.parametrize("height, width", [(1, 1), (31, 31), (20, 2000), (2000, 20), (12, 12), (13, 500)])
def test_an_image_too_small_for_mtcnn_has_no_faces(detector, height, width):
    rng = np.random.default_rng(height * width)
    assert detector.detect(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)) == []
    assert detector.detect(np.full((height, width, 3), 128, np.uint8)) == []
