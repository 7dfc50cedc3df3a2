"""Boxes of a face crop the renderer works in: where its change lies, that part enlarged to the crop's own
resolution, and the chip framing inside a padded crop."""

from __future__ import annotations

import cv2
import numpy as np

from preprocessing.alignment import padding_pixels


def changed_box(mask: np.ndarray, scale: float, size: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a mask's True pixels, scaled by `scale` and widened by a pixel, within
    `size`; the whole image when the mask is empty."""
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if len(rows) == 0:
        return 0, size, 0, size
    top, bottom = max(int(rows[0] * scale) - 1, 0), min(int(np.ceil((rows[-1] + 1) * scale)) + 1, size)
    left, right = max(int(columns[0] * scale) - 1, 0), min(int(np.ceil((columns[-1] + 1) * scale)) + 1, size)
    return top, bottom, left, right


def enlarged_box(
    image: np.ndarray, scale: float, box: tuple[int, int, int, int], box_size: tuple[int, int]
) -> np.ndarray:
    """The part of `image` (at 1/`scale` of the crop) under the crop's `box`, enlarged to the box's size."""
    top, _bottom, left, _right = box
    # The affine map from box pixels to image pixels, centre-aligned as cv2.resize is.
    matrix = np.array([[1 / scale, 0, (left + 0.5) / scale - 0.5], [0, 1 / scale, (top + 0.5) / scale - 0.5]])
    return cv2.warpAffine(
        image, matrix, box_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def unpadded_size(size: int, padding: float) -> int:
    """The side D of the chip framing inside a crop of `size` made with `align_face(..., D, padding)`."""
    guess = round(size / (1 + 2 * padding))
    for inner in (guess, guess - 1, guess + 1):
        if inner + 2 * padding_pixels(inner, padding) == size:
            return inner
    raise ValueError(f"a crop of {size} px was not made with padding {padding}")
