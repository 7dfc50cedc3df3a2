"""A child's eyes grown into an adult's: the iris smaller for its eye, the upper lid over the iris's top.

The iris is full size by about two while the eye's opening grows by about a fifth into adulthood (an iris of
11-12 mm in a fissure of about 24 mm at three, about 29 mm in an adult: approximate textbook figures, not measured
here), and an adult's upper lid rests over the iris's top where a child's shows all of it: the wide, round,
doll-like eye is what most reads as a child in a child's face aged forwards (issue 17's tenth round). The
renderer's thin-plate warp cannot do either: it moves the eye as a whole (its grid is coarser than an eye's
height), and a lid that closes by bending the eye squashes the iris into an ellipse instead of covering it. So
both are done here, on the pixels of each eye's own box:
- the iris shrinks about its centre (the darkest third of the eye) by `iris_scale`, the white filling in around it,
  inside the eye's opening only;
- the upper lid comes down by `lid_drop` of the eye's height at its middle (nothing at the corners): the lid's skin
  and lashes above the margin slide down over the iris, which is covered, not bent.
"""

from __future__ import annotations

import cv2
import numpy as np

from preprocessing.landmarks import LEFT_EYE, RIGHT_EYE

# The iris against its eye's opening, an adult's over a child's of 1-7 (11.5 / 29 mm against 11 / 24 mm: textbook
# figures, not measured here, where UTKFace's chips are too small to find an iris's edge reliably).
ADULT_IRIS_SCALE = 0.87
_UPPER_LID = (0, 1, 2, 3)  # of an eye's six points: its outer corner, the upper lid's two points, its inner corner
_LOWER_LID = (3, 4, 5, 0)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_SMALLEST_EYE = 3.0  # px of height: below it an eye is left as it is (closed, or too small to see a change)


def mature_eyes(image: np.ndarray, landmarks: np.ndarray, iris_scale: float, lid_drop: float) -> np.ndarray:
    """`image` (H, W, 3) uint8 with both eyes of its 68 `landmarks` (in its pixels) matured: each iris
    `iris_scale` (< 1 smaller) of its size, each upper lid lowered by `lid_drop` of its eye's height."""
    if iris_scale == 1.0 and lid_drop == 0.0:
        return image
    result = image.copy()
    for eye in (LEFT_EYE, RIGHT_EYE):
        _mature_eye(result, np.asarray(landmarks[eye], np.float64), iris_scale, lid_drop)
    return result


def _mature_eye(image: np.ndarray, eye: np.ndarray, iris_scale: float, lid_drop: float) -> None:
    """Matures one eye (its six points `eye`) of `image` in place."""
    width, height = float(np.ptp(eye[:, 0])), float(np.ptp(eye[:, 1]))
    if height < _SMALLEST_EYE or width < 2 * _SMALLEST_EYE:
        return
    # The box the change can reach: the eye and a lid's height above it (the lid's skin slides down).
    left, right = int(np.floor(eye[:, 0].min())) - 2, int(np.ceil(eye[:, 0].max())) + 3
    top, bottom = int(np.floor(eye[:, 1].min() - 1.5 * height)), int(np.ceil(eye[:, 1].max())) + 3
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, image.shape[1]), min(bottom, image.shape[0])
    if right - left < 4 or bottom - top < 4:
        return
    box = image[top:bottom, left:right]
    points = eye - np.array([left, top])
    ys, xs = np.mgrid[0 : bottom - top, 0 : right - left].astype(np.float32)
    changed = box
    if iris_scale != 1.0:
        map_x, map_y = _shrunk_iris(box, _opening(box.shape[:2], points), points, iris_scale, xs, ys)
        changed = cv2.remap(box, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if lid_drop > 0.0:
        lid_x, lid_y = _lowered_lid(points, lid_drop * height, xs, ys)
        changed = cv2.remap(changed, lid_x, lid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    image[top:bottom, left:right] = changed


def _opening(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """(h, w) float32: 1 inside the eye's six-point outline, feathered by a pixel."""
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, np.round(points).astype(np.int32), 1.0, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 0.7)


def _shrunk_iris(box, opening, points, scale, xs, ys) -> tuple[np.ndarray, np.ndarray]:
    """A sampling map that draws the iris in by `scale` about its centre, fading to no change at twice its radius,
    inside the opening only (the lids and lashes around it stay)."""
    luma = box.astype(np.float32) @ _LUMA
    inside = opening > 0.5
    if inside.sum() < 6:
        return xs, ys
    dark = inside & (luma <= np.percentile(luma[inside], 33))
    centre_x, centre_y = float(xs[dark].mean()), float(ys[dark].mean())
    radius = 0.23 * float(np.ptp(points[:, 0]))  # a child's iris is about 0.46 of its eye's width
    distance = np.hypot(xs - centre_x, ys - centre_y)
    # Where each radius samples from: the iris's edge (radius) is drawn at scale * radius, the white between it and
    # twice the radius stretches in to meet it, and nothing moves beyond.
    inner = scale * radius
    source = np.where(
        distance <= inner,
        distance / scale,
        np.where(distance < 2 * radius, radius + (distance - inner) * radius / (2 * radius - inner), distance),
    )
    factor = source / np.maximum(distance, 1e-6)
    map_x = centre_x + (xs - centre_x) * factor
    map_y = centre_y + (ys - centre_y) * factor
    return xs + opening * (map_x - xs), ys + opening * (map_y - ys)


def _lowered_lid(points, drop, xs, ys) -> tuple[np.ndarray, np.ndarray]:
    """A sampling map that moves the upper lid's margin down by `drop` px at the eye's middle (none at the corners)
    with the lid's skin above it; what lies under the new margin (the iris's top) is covered."""
    upper = points[list(_UPPER_LID)]
    order = np.argsort(upper[:, 0])
    margin = np.interp(xs[0], upper[order, 0], upper[order, 1])  # the lid's margin at each column
    middle, half_width = 0.5 * (upper[:, 0].min() + upper[:, 0].max()), 0.5 * float(np.ptp(upper[:, 0]))
    across = np.clip(1.0 - ((xs[0] - middle) / max(half_width, 1e-6)) ** 2, 0.0, 1.0)
    shift = drop * across  # per column
    height = float(np.ptp(points[:, 1]))
    # Above the margin the lid's skin stretches down (no shift a lid's height above it, the full shift at it); from
    # the margin to its new place every row shows the margin's own row moved down; below, nothing moves.
    above = np.clip((ys - (margin - height)) / max(height, 1e-6), 0.0, 1.0)
    # The new margin is a hard edge, as a lid's is, smoothed over a pixel.
    covered = np.clip(margin + shift - ys + 0.5, 0.0, 1.0)
    sample_y = ys - covered * shift * above
    return xs, sample_y.astype(np.float32)
