import cv2
import numpy as np
import pytest
from PIL import Image

from aging_model.neck import NeckSkin, neck_smoothing
from preprocessing.alignment import align_face

CROP = 256


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    """Grace Hopper's portrait (US Navy, shipped inside matplotlib): a deeply folded old neck between white collars."""
    from matplotlib import cbook

    return np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))


@pytest.fixture(scope="module")
def aligned(hopper, detector, landmarker):
    """(photo -> crop matrix, her jaw line in crop pixels)."""
    alignment = align_face(hopper, detector.detect(hopper)[0].landmarks, CROP)
    return alignment.matrix, landmarker.landmarks(alignment.pixels)[:17]


def _to_photo(matrix: np.ndarray, chip_points) -> np.ndarray:
    inverse = cv2.invertAffineTransform(matrix)
    return np.asarray(chip_points, np.float64) * CROP @ inverse[:, :2].T + inverse[:, 2]


def _inside_neck(neck: NeckSkin, matrix: np.ndarray, shape) -> np.ndarray:
    """(H, W) bool: the neck's core (its mask over 0.9) between the chin and the collars."""
    x0, y0, x1, y1 = neck.box
    core = np.zeros(shape[:2], bool)
    core[y0:y1, x0:x1] = neck.mask[..., 0] > 0.9
    (left, top), (right, bottom) = _to_photo(matrix, [[0.3, 1.02], [0.7, 1.5]]).round().astype(int)
    window = np.zeros_like(core)
    window[top:bottom, left:right] = True
    return core & window


def _detail(photo: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 3.0))[where].mean())


def test_the_smoothing_grows_with_the_years_taken_away_and_is_nothing_going_older():
    assert neck_smoothing(34.0, 80.0) == 0.0
    assert neck_smoothing(34.0, 30.0) == 0.0  # a few years younger: the neck as it is
    shares = [neck_smoothing(80.0, target) for target in (68, 60, 50, 5)]
    assert 0.0 < shares[0] < shares[1] < shares[2] <= shares[3]
    assert 0.7 < shares[3] <= 1.0


def test_made_a_child_her_old_neck_loses_its_folds(hopper, aligned):
    matrix, jaw = aligned
    neck = NeckSkin.find(hopper, matrix, CROP, jaw)
    assert neck is not None
    young = hopper.copy()
    neck.apply(young, own_age=86.0, target_age=5.0, jaw=jaw)
    inside = _inside_neck(neck, matrix, hopper.shape)
    assert inside.sum() > 500  # most of her neck, not a corner of it
    assert _detail(young, inside) < 0.5 * _detail(hopper, inside)


def test_going_older_the_neck_is_left_as_it_is(hopper, aligned):
    matrix, jaw = aligned
    neck = NeckSkin.find(hopper, matrix, CROP, jaw)
    older = hopper.copy()
    neck.apply(older, own_age=86.0, target_age=95.0, jaw=jaw)
    assert np.array_equal(older, hopper)


def test_her_face_her_collars_her_uniform_and_the_flag_are_left_alone(hopper, aligned):
    matrix, jaw = aligned
    neck = NeckSkin.find(hopper, matrix, CROP, jaw)
    young = hopper.copy()
    neck.apply(young, own_age=86.0, target_age=5.0, jaw=jaw)
    changed = np.abs(young.astype(int) - hopper.astype(int)).max(axis=2) > 3
    face = np.zeros(hopper.shape[:2], np.uint8)
    outline = _to_photo(matrix, np.concatenate([jaw / CROP, [[jaw[-1, 0] / CROP, -0.5], [jaw[0, 0] / CROP, -0.5]]]))
    cv2.fillPoly(face, [outline.round().astype(np.int32)], 1)
    assert changed[face > 0].mean() < 0.005  # the face above the jaw line is the renderer's
    white, dark = hopper.min(axis=2) > 190, hopper.max(axis=2) < 50
    assert changed[white].mean() < 0.02  # her white collars
    assert changed[dark].mean() < 0.02  # her uniform and cap
    assert changed[:, :120].mean() < 0.005  # the flag at the photo's left


def test_a_neck_in_the_chins_shadow_is_found_all_the_same(hopper, aligned):
    matrix, jaw = aligned
    lit = NeckSkin.find(hopper, matrix, CROP, jaw)
    inside = _inside_neck(lit, matrix, hopper.shape)
    shadowed = hopper.copy()
    shadowed[inside] = (shadowed[inside] * 0.5).astype(np.uint8)
    dark = NeckSkin.find(shadowed, matrix, CROP, jaw)
    assert dark is not None
    assert _inside_neck(dark, matrix, hopper.shape)[inside].mean() > 0.8


def test_a_neck_hidden_by_a_scarf_is_not_smoothed(hopper, aligned):
    matrix, jaw = aligned
    covered = hopper.copy()
    (x0, y0), (x1, y1) = _to_photo(matrix, [[-0.2, 1.0], [1.2, 1.9]]).round().astype(int)
    covered[max(y0, 0) : y1, max(x0, 0) : x1] = (40, 60, 160)  # a blue scarf from just under the chin down
    neck = NeckSkin.find(covered, matrix, CROP, jaw)
    young = covered.copy()
    if neck is not None:
        neck.apply(young, own_age=86.0, target_age=5.0, jaw=jaw)
    assert np.abs(young.astype(int) - covered.astype(int))[max(y0, 0) + 3 : y1, max(x0, 0) : x1].max() <= 3


def _band_over_far(photo: np.ndarray, neck: NeckSkin, matrix: np.ndarray, jaw: np.ndarray, band) -> float:
    """The neck's median brightness `band` (chip units) below the jaw line over its median from 0.12 to 0.3 below."""
    x0, y0, x1, y1 = neck.box
    grey = cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    jaw_photo = _to_photo(matrix, jaw / CROP)[3:14] - [x0, y0]
    order = np.argsort(jaw_photo[:, 0])
    jaw_y = np.interp(np.arange(x1 - x0), jaw_photo[order, 0], jaw_photo[order, 1])
    chip_side = CROP / np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    depth = (np.arange(y1 - y0)[:, None] - jaw_y[None, :]) / chip_side
    core = neck.mask[..., 0] > 0.9
    near = core & (depth >= band[0]) & (depth < band[1])
    far = core & (depth >= 0.12) & (depth < 0.3)
    return float(np.median(grey[near]) / np.median(grey[far]))


def test_under_the_risen_chin_the_neck_keeps_the_shadow_the_photos_chin_casts(hopper, aligned):
    matrix, jaw = aligned
    neck = NeckSkin.find(hopper, matrix, CROP, jaw)
    assert neck.shadow[1] < 0.85  # her chin shades her neck in the photo
    risen = jaw - np.array([0.0, 0.06 * CROP])  # a child's chin, higher up
    shaded, flat = hopper.copy(), hopper.copy()
    neck.apply(shaded, own_age=86.0, target_age=5.0, jaw=risen)
    unshaded = NeckSkin(neck.box, neck.mask, neck.from_crop, neck.crop_size)  # no shadow measured
    unshaded.apply(flat, own_age=86.0, target_age=5.0, jaw=risen)
    band = (0.03, 0.06)
    assert _band_over_far(shaded, neck, matrix, risen, band) < _band_over_far(flat, neck, matrix, risen, band) - 0.05
    assert _band_over_far(shaded, neck, matrix, risen, band) < 0.85  # the photo has 0.68 there
