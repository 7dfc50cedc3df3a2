"""A child's features for a face made young: its brows, lids, nose, cheeks and chin as they are drawn at the scale
the age readers and the eye read them (between the fine band and the face's shading) are drawn towards the child
prototype's, in the face's own tone.

Why (scripts/region_swap.py): swapping regions between 32 held-out adults aimed at 3 and 32 real children of 2-4
(aligned as the product aligns faces) showed where the adult stays. A real child's face inside the aged adult's
outline read 4.0 to the estimator (judge 3.8); the aged adult's face inside a child's head read 8.3 (7.6; the aged
adult as served: 8.9 / 8.4): the head around the face hardly counts. Within the face, neither the 68 landmarks'
geometry (eyes opened, brows raised, the face widened, the chin lowered towards real children's: each within 0.5
years) nor the skin's finest detail carries it; the band between the fine detail and the shading does. On 48
held-out adults (scripts/judge_sets.py) the child prototype's band over the face read 5.5 / 11.3 / 17.4 at 3 / 8 /
13 (judge 5.7 / 10.9 / 16.1) against 8.6 / 14.3 / 21.3 (8.8 / 13.7 / 18.7) without it. The face keeps its own
shading, colour, outline, hair and finest detail, and its eyes, mouth and thin strong lines (glasses' frames) their
own band (see PrototypeAger.age), so it stays a child of that person. Thin pale frames still fade (see the model
card).
"""

from __future__ import annotations

import cv2
import numpy as np

from aging_model.prototypes.age_prototypes import FINE_SIGMA
from aging_model.prototypes.face_regions import wide_blur
from preprocessing.landmarks import BROWS, JAW, LEFT_EYE, RIGHT_EYE

FEATURES_SIGMA = 10.5  # TEXTURE_SIZE px: the band's coarse end (COARSE_SIGMA 5.0 left the readings 2 years older)
# Share of the skin's pull (pulls.YOUNGER_PULL) the features take at a child's target (1.1 read 0.2-0.4 years older
# at 3 on 48 held-out adults, with nothing seen differently on whole portraits; 1.4 since the jaw's pins, which read
# 0.2-0.4 years older: 1.4 gives that back), and the ages it fades over between a child's target and an adult's.
FEATURES_SHARE = 1.4
CHILD_TARGET_FULL = 13.0
CHILD_TARGET_NONE = 20.0
_FEATHER = 0.02  # of the side
LINE_SIGMAS = (0.8, 2.5)  # TEXTURE_SIZE px: a line's width, and what it stands out of
LINE_LEVELS = (14.0, 26.0)  # grey levels of that contrast from nothing to a whole line
_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)


def features_band(image: np.ndarray, scale: float) -> np.ndarray:
    """The band of a float32 (H, W, 3) image between its fine detail and its shading; `scale` is its size in
    TEXTURE_SIZE units."""
    return cv2.GaussianBlur(image, (0, 0), FINE_SIGMA * scale) - wide_blur(image, FEATURES_SIGMA * scale)


def features_pull(skin_pull: float, target: float) -> float:
    """How far, 0..1, the features' band is drawn towards the target's prototype: a child's targets only."""
    child = float(np.clip((CHILD_TARGET_NONE - target) / (CHILD_TARGET_NONE - CHILD_TARGET_FULL), 0.0, 1.0))
    return float(min(1.0, FEATURES_SHARE * skin_pull * child))


def mouth_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """(size, size) 1 over the mouth, its lips and its opening, feathered."""
    mouth = shape[48:60]
    centre = mouth.mean(axis=0)
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [cv2.convexHull((centre + 1.15 * (mouth - centre)).astype(np.int32))], 1.0)
    return cv2.GaussianBlur(mask, (0, 0), 0.01 * size)


def face_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """(size, size) 1 inside the face's outline (the jaw and the brows, a little above them), feathered inwards so
    that the outline itself, and hair or background beyond it, keep their own pixels."""
    jaw, brows = shape[JAW], shape[BROWS].copy()
    brows[:, 1] -= 0.04 * size
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [cv2.convexHull(np.concatenate([jaw, brows]).astype(np.int32))], 1.0)
    feather = _FEATHER * size
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * round(feather) + 1,) * 2))
    return cv2.GaussianBlur(mask, (0, 0), feather)


def thin_lines(image: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, 1) 1 on thin, strongly contrasted lines (glasses' frames), 0 on softer features and on skin; `image`
    float32 (H, W, 3), `scale` its size in TEXTURE_SIZE units. No glasses detector was found that tells frames from
    shadowed faces; their thin, strong edge does, though thin pale frames stay below it."""
    luminance = np.ascontiguousarray(image @ _LUMINANCE)
    narrow, wide = (cv2.GaussianBlur(luminance, (0, 0), sigma * scale) for sigma in LINE_SIGMAS)
    response = np.abs(narrow - wide)
    low, high = LINE_LEVELS
    lines = np.clip((response - low) / (high - low), 0.0, 1.0)
    lines = cv2.dilate(lines, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(lines, (0, 0), 1.5 * scale)[..., None]


def lids_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """(size, size) 1 over the lids around each eye (where eye shadow and liner are worn), 0 over the eye's opening
    (its iris and white keep their colour) and beyond, feathered."""
    mask = np.zeros((size, size), np.float32)
    for part in (LEFT_EYE, RIGHT_EYE):
        points = shape[part]
        centre = points.mean(axis=0)
        cv2.fillPoly(mask, [cv2.convexHull((centre + np.array([1.5, 2.4]) * (points - centre)).astype(np.int32))], 1.0)
        cv2.fillPoly(mask, [cv2.convexHull(points.astype(np.int32))], 0.0)
    return cv2.GaussianBlur(mask, (0, 0), 0.008 * size)


def skin_coloured_lids(image: np.ndarray, lids: np.ndarray, own_tone: np.ndarray) -> np.ndarray:
    """(H, W, 3) the change that gives the lids of a float32 (H, W, 3) image the face's own skin colour at their own
    brightness: coloured eye shadow (purple, blue, green) goes, the lids' light and shade stay. `lids` (H, W, 1)."""
    brightness = image @ _LUMINANCE
    skin_colour = own_tone / max(float(own_tone @ _LUMINANCE), 1.0)
    return lids * (brightness[..., None] * skin_colour - image)


def child_regions(shape: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) float32: the face (`face_mask`), its mouth (`mouth_mask`) and its lids (`lids_mask`) of a
    face with landmarks `shape`, stacked so that one warp carries all three onto a face."""
    return np.stack([face_mask(shape, size), mouth_mask(shape, size), lids_mask(shape, size)], axis=2)
