"""Facial hair ages with the face: a dark moustache greys at 80, and what only looks dark (a smooth shadow in the
skin's own hue) stays; a grey beard aimed decades back darkens (also covered in test_aging.py)."""

import cv2
import numpy as np

from aging_model.prototypes.facial_hair import FacialHair

MAN = 0.0


def _moustache_box(marks: np.ndarray) -> tuple[slice, slice]:
    """Between the nose's base and the upper lip."""
    top, bottom = int(marks[33, 1]) + 3, int(marks[51, 1]) - 2
    return slice(top, bottom), slice(int(marks[48, 0]), int(marks[54, 0]))


def test_a_dark_moustache_greys_at_80_and_keeps_its_strands(still_ager, face):
    crop, marks = face
    rng = np.random.default_rng(0)
    box = _moustache_box(marks)
    with_moustache = crop.copy()
    strands = rng.normal(0, 12, with_moustache[box].shape[:2])[..., None]
    with_moustache[box] = np.clip(np.array([40, 34, 30]) + strands, 0, 255).astype(np.uint8)
    [own, old] = still_ager.age(with_moustache, marks, 40.0, MAN, [40.0, 80.0])
    inner = (slice(box[0].start + 2, box[0].stop - 2), slice(box[1].start + 4, box[1].stop - 4))
    assert old[inner].mean() > own[inner].mean() + 50  # grey-white now
    assert old[inner].std(axis=(0, 1)).mean() > 5  # not a flat paint


def test_a_smooth_shadow_in_the_skins_own_hue_is_not_taken_for_hair(still_ager, face):
    crop, marks = face
    box = _moustache_box(marks)
    shade = np.zeros(crop.shape[:2], np.float32)
    shade[box] = 1.0
    shade = cv2.GaussianBlur(shade, (0, 0), 4.0)[..., None]  # soft-edged, as shadows are
    shadowed = (crop * (1.0 - 0.45 * shade)).astype(np.uint8)  # darker, in the same hue
    change = FacialHair(
        shadowed.astype(np.float32),
        tuple(np.zeros((*crop.shape[:2], 1), np.float32) + z for z in (1.0, 0.0, 0.0)),
        crop[box].reshape(-1, 3).mean(axis=0).astype(np.float32),
        own_age=40.0,
        beard=1.0,
    ).change(80.0)
    assert change is not None
    moved = np.abs(change[box]).max(axis=2)
    assert moved.mean() < 1.5 and np.percentile(moved, 99) < 8  # no grey blotch: a pixel or two at most


def test_a_womans_upper_lip_and_a_childs_face_have_no_beard_to_grey(face):
    crop, _ = face
    zones = tuple(np.ones((*crop.shape[:2], 1), np.float32) * z for z in (1.0, 0.0, 0.0))
    tone = crop.reshape(-1, 3).mean(axis=0).astype(np.float32)
    dark = np.full_like(crop, 40, dtype=np.float32) + np.random.default_rng(1).normal(0, 12, crop.shape[:2])[..., None]
    woman = FacialHair(dark, zones, tone, own_age=40.0, beard=0.0).change(80.0)
    assert woman is None or np.abs(woman).max() < 1e-3
    assert FacialHair(dark, zones, tone, own_age=6.0, beard=1.0).change(80.0) is None
