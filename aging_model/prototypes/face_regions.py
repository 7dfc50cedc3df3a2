"""The regions of a face the prototype renderer treats apart, as feathered masks from its 68 landmarks: the
skin it recolours, the shaving zone a face made young loses its beard in, the lips and brows a child's face
softens, the eyes whose lids a child's face takes, and how much each pixel looks like the face's own skin; and,
from the pixels alone, where grey hairs are and whether the photo is black and white.

Masks are (size, size) float32 in [0, 1] (the shaving zone (size, size, 2)) for landmarks in pixels of a
square crop of `size`.
"""

from __future__ import annotations

import cv2
import numpy as np

from preprocessing.landmarks import BROWS, JAW, LEFT_EYE, MOUTH, RIGHT_EYE

SKIN_FEATHER = 0.035  # of the side
BEARD_REACH = 0.05  # of the side, below the jaw line

_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)
_GREY_COLOURFULNESS = 3.0  # QualityThresholds.grayscale_colourfulness


def skin_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """1 over the skin from the jaw to the upper forehead, feathered; 0 over hair and background, and over
    the eyes and the lips, which keep their own colour and detail."""
    jaw, brows = shape[JAW], shape[BROWS]
    face_height = jaw[:, 1].max() - brows[:, 1].mean()
    forehead = brows.copy()
    forehead[:, 1] -= 0.35 * face_height  # the forehead above the brows, below most hairlines
    outline = np.concatenate([jaw, forehead[::-1]]).astype(np.int32)
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [cv2.convexHull(outline)], 1.0)
    for part in (LEFT_EYE, RIGHT_EYE, MOUTH):
        points = shape[part]
        centre = points.mean(axis=0)
        enlarged = centre + 1.3 * (points - centre)  # lashes and lids around the outline
        cv2.fillPoly(mask, [cv2.convexHull(enlarged.astype(np.int32))], 0.0)
    return cv2.GaussianBlur(mask, (0, 0), SKIN_FEATHER * size)


def eyes_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """1 over each eye with its lids and lashes (its outline enlarged about its centre), feathered."""
    mask = np.zeros((size, size), np.float32)
    for part in (LEFT_EYE, RIGHT_EYE):
        points = shape[part]
        centre = points.mean(axis=0)
        enlarged = centre + np.array([1.5, 2.2]) * (points - centre)
        cv2.fillPoly(mask, [cv2.convexHull(enlarged.astype(np.int32))], 1.0)
    return cv2.GaussianBlur(mask, (0, 0), SKIN_FEATHER * size)


def lower_face_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 2): 1 from just under the nose to the chin and along the jaw (where beards, moustaches and
    stubble grow), feathered, 0 over the lips; and the same reaching on under the jaw line."""
    jaw = shape[JAW]
    nose_bottom = shape[31:36]
    nose_bottom = nose_bottom[::-1] - np.array([0.0, 0.01 * size])
    outline = np.concatenate([jaw[2:15], nose_bottom]).astype(np.int32)
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [cv2.convexHull(outline)], 1.0)
    # Beards and stubble go on under the jaw line: a young chin rises, and what was below it must not show.
    reach = max(1, round(BEARD_REACH * size))
    reaching = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    lips = shape[MOUTH]
    centre = lips.mean(axis=0)
    lips = cv2.convexHull((centre + 1.05 * (lips - centre)).astype(np.int32))
    masks = []
    for zone in (mask, reaching):
        cv2.fillPoly(zone, [lips], 0.0)
        masks.append(cv2.GaussianBlur(zone, (0, 0), SKIN_FEATHER * size))
    return np.ascontiguousarray(np.stack(masks, axis=2))


def brows_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """1 over each brow (its five points, widened above and below by a share of the side), feathered."""
    mask = np.zeros((size, size), np.float32)
    for brow in (shape[17:22], shape[22:27]):
        above, below = np.array([0.0, -0.02 * size]), np.array([0.0, 0.025 * size])
        band = np.concatenate([brow + above, brow[::-1] + below])
        cv2.fillPoly(mask, [band.astype(np.int32)], 1.0)
    return cv2.GaussianBlur(mask, (0, 0), 0.01 * size)


def lips_mask(shape: np.ndarray, size: int) -> np.ndarray:
    """1 over the lips (the outer outline less the mouth's opening, where teeth show), feathered a little."""
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [cv2.convexHull(shape[MOUTH].astype(np.int32))], 1.0)
    cv2.fillPoly(mask, [shape[60:68].astype(np.int32)], 0.0)
    return cv2.GaussianBlur(mask, (0, 0), 0.006 * size)


def skin_likelihood(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(D, D, 1) in [0, 1]: how much each pixel looks like this face's own skin (its chroma and brightness
    near the cheeks' and forehead's). Hair over the forehead, glasses, a hand or the background that the
    prototypes' mask covers on this face keep their pixels: the prototypes' colour change is a skin change."""
    size = crop.shape[0]
    ycrcb = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    radius = max(2, round(0.05 * size))
    brow_middle = landmarks[21:23].mean(axis=0)
    forehead = brow_middle + 0.35 * (brow_middle - landmarks[33])
    centres = [landmarks[[1, 2, 3, 31, 48]].mean(axis=0), landmarks[[13, 14, 15, 35, 54]].mean(axis=0), forehead]
    sample = np.zeros((size, size), np.uint8)
    for centre in centres:
        cv2.circle(sample, (int(centre[0]), int(centre[1])), radius, 1, -1)
    pixels = ycrcb[sample > 0]
    if len(pixels) < 10:
        return np.ones((size, size, 1), np.float32)
    median = np.median(pixels, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(pixels - median), axis=0), [24.0, 5.0, 5.0])
    distance = ((ycrcb - median) / (2.5 * spread)) ** 2
    likelihood = np.exp(-0.5 * distance.sum(axis=2))
    return cv2.GaussianBlur(likelihood.astype(np.float32), (0, 0), 0.01 * size)[..., None]


def grey_hairs(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1) 1 on pixels that are colourless and light (grey or white hairs, each on its own: salt and pepper
    blurs into the skin's colour), 0 on skin, whose channels differ by more, and on dark hair."""
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    colourless = np.clip((28.0 - spread) / 12.0, 0.0, 1.0)
    light = np.clip((pixels @ _LUMINANCE - 90.0) / 40.0, 0.0, 1.0)
    return (colourless * light)[..., None].astype(np.float32)


def is_black_and_white(image: np.ndarray) -> bool:
    """True for a black-and-white photo (the quality check's measure of colourfulness, same threshold)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return float((np.abs(r - g) + np.abs(g - b)).mean() / 2) < _GREY_COLOURFULNESS


def skin_around(image: np.ndarray, weight: np.ndarray, sigma: float, min_weight: float) -> np.ndarray:
    """(H, W, 3) the colour of the skin around each pixel: a blur of `image` normalised by `weight` (H, W, 1, how
    much each pixel is skin), so what is not skin (a beard, hair, a backdrop) takes the colour of the skin beside
    it; where less than `min_weight` of skin is near, the image's own colour."""
    blurred = wide_blur(image * weight, sigma)
    norm = wide_blur(np.ascontiguousarray(weight[..., 0]), sigma)[..., None]
    return np.where(norm > min_weight, blurred / np.maximum(norm, 1e-3), image)


def wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of a wide `sigma`, made at a fraction of the size (a third of the time or less): what
    it keeps is smooth, so enlarging it back loses nothing that shows."""
    factor = int(sigma // 3)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), sigma * small.shape[1] / width)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
