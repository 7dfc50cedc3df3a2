"""A child's eyes grown into an adult's (eyes.mature_eyes): a smaller iris for its eye, the upper lid over its top."""

import cv2
import numpy as np
import pytest

from aging_model.prototypes.eyes import mature_eyes
from preprocessing.landmarks import LEFT_EYE, RIGHT_EYE

_SKIN, _WHITE, _IRIS, _LASHES = (200, 160, 140), (235, 235, 230), (40, 30, 25), (20, 15, 15)
_CENTRES = ((90, 100), (210, 100))
_WIDTH, _HEIGHT, _IRIS_RADIUS = 60, 26, 13


def _drawn_eyes() -> tuple[np.ndarray, np.ndarray]:
    """Two drawn eyes on skin (white almond, round dark iris, a lash line on the upper lid) and 68 landmarks whose
    eyes' six points outline them (the rest far from them)."""
    image = np.zeros((200, 300, 3), np.uint8)
    image[:] = _SKIN
    marks = np.tile(np.array([150.0, 180.0]), (68, 1))
    for (x, y), eye in zip(_CENTRES, (LEFT_EYE, RIGHT_EYE)):
        half_w, half_h = _WIDTH / 2, _HEIGHT / 2
        cv2.ellipse(image, (x, y), (int(half_w), int(half_h)), 0, 0, 360, _WHITE, -1)
        cv2.circle(image, (x, y), _IRIS_RADIUS, _IRIS, -1)
        cv2.ellipse(image, (x, y), (int(half_w), int(half_h)), 0, 180, 360, _LASHES, 2)
        upper = [(x - half_w / 3, y - half_h * 0.94), (x + half_w / 3, y - half_h * 0.94)]
        lower = [(x + half_w / 3, y + half_h * 0.94), (x - half_w / 3, y + half_h * 0.94)]
        marks[eye] = [(x - half_w, y), *upper, (x + half_w, y), *lower]
    return image, marks


def _dark_rows(image: np.ndarray, column: int) -> np.ndarray:
    return np.nonzero(image[:, column].astype(int).sum(axis=1) < 200)[0]


def test_nothing_changes_without_maturing():
    image, marks = _drawn_eyes()
    assert mature_eyes(image, marks, 1.0, 0.0) is image


def test_the_iris_shrinks_for_its_eye_and_keeps_its_colour():
    image, marks = _drawn_eyes()
    matured = mature_eyes(image, marks, 0.87, 0.0)
    for x, y in _CENTRES:
        yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
        around = np.hypot(xx - x, yy - y) < _IRIS_RADIUS + 4  # the iris and the white beside it, not the lashes
        iris_before = (image[around].astype(int).sum(axis=1) < 150).sum()
        iris_after = (matured[around].astype(int).sum(axis=1) < 150).sum()
        assert 0.68 * iris_before < iris_after < 0.83 * iris_before  # about 0.87 squared
        assert np.abs(matured[y, x].astype(int) - np.array(_IRIS)).max() <= 2  # not greyed
        # The white fills in where the iris was: along the centre line, just inside the old iris's edge.
        assert matured[y, x + _IRIS_RADIUS - 1].astype(int).sum() > 500


def test_the_upper_lid_comes_down_over_the_iris_at_its_middle_not_at_its_corners():
    image, marks = _drawn_eyes()
    drop = 0.2
    matured = mature_eyes(image, marks, 1.0, drop)
    for x, y in _CENTRES:
        lash_before, lash_after = _dark_rows(image, x)[0], _dark_rows(matured, x)[0]
        assert lash_after - lash_before == pytest.approx(drop * _HEIGHT * 0.94, abs=1.0)  # of the points' height
        # The lash line now lies over the iris: its rows just below the new margin are iris, not white.
        assert matured[lash_after + 3, x].astype(int).sum() < 150
        corner = (slice(y - 4, y + 4), slice(x - _WIDTH // 2 - 3, x - _WIDTH // 2 + 2))
        assert np.array_equal(matured[corner], image[corner])
        assert np.array_equal(matured[y:, x - 30 : x + 30], image[y:, x - 30 : x + 30])  # the lower half stays


def test_only_the_eyes_and_their_lids_change():
    image, marks = _drawn_eyes()
    matured = mature_eyes(image, marks, 0.87, 0.25)
    changed = np.nonzero(np.abs(matured.astype(int) - image.astype(int)).sum(axis=2))
    for y, x in zip(*changed):
        nearest = min(_CENTRES, key=lambda c: abs(c[0] - x))
        assert abs(x - nearest[0]) <= _WIDTH / 2 + 2
        assert nearest[1] - 2.5 * _HEIGHT <= y <= nearest[1] + _HEIGHT / 2


def test_a_real_face_keeps_its_eyes_dark_and_its_lids_on_their_eyes(face):
    """The astronaut's eyes matured as a grown child's would be: inside each eye's outline the darkest part (the
    iris) stays as dark as it was and takes less of the eye, and nothing beyond the eyes' boxes moves."""
    crop, marks = face
    matured = mature_eyes(crop, marks, 0.87, 0.19)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    for eye in (LEFT_EYE, RIGHT_EYE):
        outline = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillConvexPoly(outline, np.round(marks[eye]).astype(np.int32), 1)
        inside = outline.astype(bool)
        before, after = (image.astype(np.float32) @ luma for image in (crop, matured))
        threshold = np.percentile(before[inside], 33)
        assert (after[inside] <= threshold).sum() < 0.9 * (before[inside] <= threshold).sum()
        assert after[inside].min() <= before[inside].min() + 4  # darker for less of the eye, not greyed
    far = np.ones(crop.shape[:2], bool)
    top, bottom = int(marks[36:48, 1].min() - 2 * np.ptp(marks[36:48, 1])), int(marks[36:48, 1].max()) + 4
    far[top:bottom, int(marks[36, 0]) - 4 : int(marks[45, 0]) + 5] = False
    assert np.array_equal(matured[far], crop[far])
