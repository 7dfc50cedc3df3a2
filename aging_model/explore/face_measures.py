"""Plain measurements of aligned faces, to say what a direction of the latent space changes.

Each measure is a number per face that a person can check by eye: how light the face or the background is,
how colourful the photo is, where the head turns, how wide the face is, how far the mouth is open, how wide
it is drawn, and what the age and gender estimator reads. A direction whose scores go with one of them
(`aging_model.explore.directions`) is named after it. NaN marks a face a measure could not be taken on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from preprocessing.landmarks import JAW, LEFT_EYE, RIGHT_EYE
from preprocessing.quality import central_region, pose_from_landmarks

_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54  # outer mouth corners in dlib's 68 points
_INNER_LIP_TOP, _INNER_LIP_BOTTOM = 62, 66
_CHEEK_LEFT, _CHEEK_RIGHT = JAW.start + 2, JAW.stop - 3  # jaw outline at the height of the nose's base


@dataclass(frozen=True)
class Measure:
    """A measurable property and what its low and high ends look like (the ends of a slider)."""

    key: str
    name: str
    lower: str
    higher: str


MEASURES = (
    Measure("face_brightness", "face brightness", "darker face", "lighter face"),
    Measure("background_brightness", "background brightness", "darker background", "lighter background"),
    Measure("colourfulness", "colour", "greyer", "more colourful"),
    Measure("yaw", "head turn", "nose to image left", "nose to image right"),
    Measure("pitch", "head tilt", "nose higher", "nose lower"),
    Measure("face_width", "face width", "narrower face", "wider face"),
    Measure("mouth_opening", "mouth opening", "mouth closed", "mouth open"),
    Measure("mouth_width", "mouth width (smile)", "narrower mouth", "wider mouth"),
    Measure("estimated_age", "estimated age", "looks younger", "looks older"),
    Measure("female_probability", "estimated gender", "looks more male", "looks more female"),
)


def measure_faces(
    crops: np.ndarray, chip_landmarks: np.ndarray, dense_landmarks: np.ndarray, estimate
) -> dict[str, np.ndarray]:
    """Every measure of MEASURES for N faces, by key.

    crops: (N, S, S, 3) uint8 faces in the chip framing; chip_landmarks: (N, 5, 2) MTCNN points on the
    dataset's own chips (NaN where none were found), which still show the head's pose that alignment takes
    out; dense_landmarks: (N, 68, 2) dlib points on `crops`; estimate: the estimator's reading of `crops`.
    """
    pose = np.array([_pose(marks) for marks in chip_landmarks])
    measures = {
        "face_brightness": np.array([_face_brightness(crop) for crop in crops]),
        "background_brightness": np.array([_background_brightness(crop) for crop in crops]),
        "colourfulness": np.array([_colourfulness(crop) for crop in crops]),
        "yaw": pose[:, 0],
        "pitch": pose[:, 1],
        "face_width": np.array([_face_width(points) for points in dense_landmarks]),
        "mouth_opening": np.array([_mouth_opening(points) for points in dense_landmarks]),
        "mouth_width": np.array([_mouth_width(points) for points in dense_landmarks]),
        "estimated_age": np.asarray(estimate.ages, dtype=np.float64),
        "female_probability": np.asarray(estimate.female_probability, dtype=np.float64),
    }
    return {key: values.astype(np.float64) for key, values in measures.items()}


def _face_brightness(crop: np.ndarray) -> float:
    return float(central_region(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)).mean())


def _background_brightness(crop: np.ndarray) -> float:
    """The two top corners: in the chip framing they lie beside the head, above the ears."""
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    corner = max(1, gray.shape[0] // 8)
    return float((gray[:corner, :corner].mean() + gray[:corner, -corner:].mean()) / 2)


def _colourfulness(crop: np.ndarray) -> float:
    """As the quality report measures it: near 0 for black-and-white photos."""
    rgb = central_region(crop).astype(np.int16)
    return float((np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])).mean() / 2)


def _pose(marks: np.ndarray) -> tuple[float, float]:
    if np.isnan(marks).any():
        return np.nan, np.nan
    yaw, pitch, _roll = pose_from_landmarks(marks)
    return yaw, pitch


def _inter_ocular(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[RIGHT_EYE].mean(axis=0) - points[LEFT_EYE].mean(axis=0)))


def _face_width(points: np.ndarray) -> float:
    """The jaw outline's width at the cheeks, in eye distances (so that the framing's scale drops out)."""
    return float(np.linalg.norm(points[_CHEEK_RIGHT] - points[_CHEEK_LEFT])) / _inter_ocular(points)


def _mouth_opening(points: np.ndarray) -> float:
    """The gap between the inner lips, as a share of the mouth's width."""
    gap = np.linalg.norm(points[_INNER_LIP_BOTTOM] - points[_INNER_LIP_TOP])
    return float(gap / max(np.linalg.norm(points[_MOUTH_RIGHT] - points[_MOUTH_LEFT]), 1e-6))


def _mouth_width(points: np.ndarray) -> float:
    """Corner to corner, in eye distances: a smile draws the corners apart."""
    return float(np.linalg.norm(points[_MOUTH_RIGHT] - points[_MOUTH_LEFT])) / _inter_ocular(points)
