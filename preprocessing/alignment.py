"""Alignment: a similarity transform from five landmarks to the UTKFace chip template, and its inverse.

The model is trained on UTKFace's aligned & cropped chips, so a face from any photo is cropped to that same
framing. The template below was derived from the data (`derive_template`): MTCNN landmarks detected on all
23,120 readable UTKFace chips (200 x 200 px; 81 without a face), the per-point median. The chips' own framing
varies: their landmarks sit a mean 5.4 px (median 5.2, p95 9.4) from this template after the best similarity
fit, and re-aligning moves a chip's landmarks by a mean 14.4 px (median 12.2) -- UTKFace is loosely aligned, and
this alignment is tighter than the chips it was derived from. Landmarks
are in the chip's pixel units; `align_face` scales them to any output size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TEMPLATE_CHIP_SIZE = 200
# left eye, right eye, nose tip, left mouth corner, right mouth corner (image left/right), in a 200 px chip.
CHIP_TEMPLATE = np.array(
    [
        [50.28, 41.86],
        [138.98, 41.32],
        [94.93, 94.88],
        [55.01, 133.90],
        [134.65, 134.31],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class AlignedFace:
    """A face cropped to the chip framing, and the 2x3 matrix that maps photo pixels to crop pixels."""

    pixels: np.ndarray
    matrix: np.ndarray

    @property
    def size(self) -> int:
        return self.pixels.shape[0]


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares rotation + uniform scale + translation (2x3) mapping `source` points onto `target`."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    norm = (s**2).sum()
    if norm < 1e-12:
        raise ValueError("landmarks are degenerate (all at one point)")
    a = (s[:, 0] * t[:, 0] + s[:, 1] * t[:, 1]).sum() / norm
    b = (s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum() / norm
    rotation_scale = np.array([[a, -b], [b, a]])
    translation = target_mean - rotation_scale @ source_mean
    return np.hstack([rotation_scale, translation[:, None]])


def template_for(size: int) -> np.ndarray:
    """The five template landmarks for a square crop of `size` pixels."""
    return CHIP_TEMPLATE * (size / TEMPLATE_CHIP_SIZE)


def padding_pixels(size: int, padding: float) -> int:
    """The margin, in pixels, that `padding` (a share of the side) adds on each side of a `size` crop."""
    return round(padding * size)


def align_face(
    pixels: np.ndarray, landmarks: np.ndarray, size: int, padding: float = 0.0, border: int = cv2.BORDER_REPLICATE
) -> AlignedFace:
    """Crop the face with these landmarks to a `size` x `size` chip-framed image; with `padding`, the same
    framing plus that share of `size` of the photo around it on every side (the crop is then larger). Beyond the
    photo's edge the crop repeats the edge's pixels, or mirrors the photo (`border`, an OpenCV border mode).

    When the face is much larger than the crop, warping straight to `size` would alias (skip pixels), so the
    warp goes to an intermediate size near the face's own scale and is then reduced with area averaging.
    """
    pad = padding_pixels(size, padding)
    out_size = size + 2 * pad
    matrix = similarity_transform(landmarks, template_for(size) + pad)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    work_size = out_size if scale >= 0.5 else min(int(np.ceil(out_size / scale)), 4 * max(out_size, 256))
    work_matrix = matrix * (work_size / out_size)
    crop = cv2.warpAffine(pixels, work_matrix, (work_size, work_size), flags=cv2.INTER_LINEAR, borderMode=border)
    if work_size != out_size:
        crop = cv2.resize(crop, (out_size, out_size), interpolation=cv2.INTER_AREA)
    return AlignedFace(pixels=crop, matrix=matrix)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def derive_template(chip_landmarks: np.ndarray) -> np.ndarray:
    """The chip template from landmarks detected on many chips: the per-point median, robust to misdetections."""
    found = chip_landmarks[~np.isnan(chip_landmarks).any(axis=(1, 2))]
    return np.median(found, axis=0)


def realignment_error(chip_landmarks: np.ndarray, template: np.ndarray = CHIP_TEMPLATE) -> np.ndarray:
    """Per chip, the mean distance (px) between its landmarks after alignment to `template` and the template.

    Near zero means the alignment reproduces the chip's framing: aligning a chip again changes it little.
    """
    errors = []
    for marks in chip_landmarks:
        if np.isnan(marks).any():
            continue
        matrix = similarity_transform(marks, template)
        errors.append(np.linalg.norm(transform_points(matrix, marks) - template, axis=1).mean())
    return np.array(errors)
