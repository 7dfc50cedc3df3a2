"""Quality report per face: is it worth aging, and if not, which named reason says why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from preprocessing.alignment import similarity_transform, template_for
from preprocessing.detection import DetectedFace

ANALYSIS_SIZE = 128  # quality is measured on an aligned crop of fixed size so numbers compare across photos
# Sharpness is measured at the face's own resolution when that is below ANALYSIS_SIZE: an enlarged small face
# is soft however sharp the photo, and would always be called blurred. Below this the inner face has too few
# pixels to measure (such faces are too small to age anyway).
MIN_SHARPNESS_SIZE = 32


@dataclass(frozen=True)
class QualityThresholds:
    """Limits that decide `usable`; each failed one adds its reason."""

    min_probability: float = 0.90
    min_face_px: float = 28.0  # shorter side of the face box in the original photo
    min_sharpness: float = 40.0  # variance of the Laplacian on the aligned crop, at most 128 px (sharpness_crop)
    min_brightness: float = 40.0
    max_brightness: float = 215.0
    max_clipped_share: float = 0.35  # pixels at pure black or white
    max_yaw: float = 0.45  # nose offset from the eyes' midpoint, in inter-ocular distances
    max_pitch: float = 0.35  # deviation of the nose's height between eyes and mouth from frontal
    grayscale_colourfulness: float = 3.0  # below: a black-and-white photo (a warning, not a reason)


@dataclass(frozen=True)
class QualityReport:
    """Measurements of one face and the verdict; `reasons` is empty when `usable`."""

    detection_probability: float
    face_size_px: float
    sharpness: float
    brightness: float
    clipped_share: float
    colourfulness: float
    yaw: float
    pitch: float
    roll_degrees: float
    usable: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def refusal_messages(report: QualityReport, thresholds: QualityThresholds = QualityThresholds()) -> dict[str, str]:
    """Per reason of `report` (in its order), one sentence for the person who sent the photo."""
    t = thresholds
    messages = {
        "low_detection_probability": f"The detector is not sure this is a face (probability "
        f"{report.detection_probability:.2f}; {t.min_probability:.2f} is needed).",
        "face_too_small": f"The face is {report.face_size_px:.0f} px across in the photo; faces of at least "
        f"{t.min_face_px:.0f} px are aged.",
        "extreme_pose": "The face is turned too far from the camera to be aligned and aged.",
    }
    return {reason: messages[reason] for reason in report.reasons}


def pose_from_landmarks(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Rough (yaw, pitch, roll in degrees) from five landmarks; 0 is a frontal, upright face."""
    left_eye, right_eye, nose, mouth_left, mouth_right = np.asarray(landmarks, dtype=np.float64)
    eye_mid, mouth_mid = (left_eye + right_eye) / 2, (mouth_left + mouth_right) / 2
    eye_vector = right_eye - left_eye
    inter_ocular = max(np.linalg.norm(eye_vector), 1e-6)
    roll = float(np.degrees(np.arctan2(eye_vector[1], eye_vector[0])))
    # Express the nose in the face's own frame (x along the eyes, y from the eyes towards the mouth).
    x_axis = eye_vector / inter_ocular
    y_axis = np.array([-x_axis[1], x_axis[0]])
    nose_offset = nose - eye_mid
    yaw = float(nose_offset @ x_axis / inter_ocular)
    face_height = max((mouth_mid - eye_mid) @ y_axis, 1e-6)
    # Frontal faces have the nose tip a little over half way from the eyes to the mouth (UTKFace median: 0.58).
    pitch = float((nose_offset @ y_axis) / face_height - 0.58)
    return yaw, pitch, roll


def assess_face(
    face: DetectedFace,
    analysis_crop: np.ndarray,
    photo_scale: float = 1.0,
    thresholds: QualityThresholds = QualityThresholds(),
) -> QualityReport:
    """Measure one detected face. `analysis_crop` is the face aligned at ANALYSIS_SIZE; `photo_scale` is
    working pixels per original pixel, so the reported size is in the user's own photo's pixels."""
    gray = cv2.cvtColor(analysis_crop, cv2.COLOR_RGB2GRAY)
    centre = central_region(gray)
    sharpness = float(cv2.Laplacian(central_region(sharpness_crop(gray, face)), cv2.CV_64F).var())
    brightness = float(centre.mean())
    clipped = float(((centre <= 5) | (centre >= 250)).mean())
    rgb = analysis_crop.astype(np.int16)
    colourfulness = float((np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])).mean() / 2)
    yaw, pitch, roll = pose_from_landmarks(face.landmarks)
    size = face.size / photo_scale
    t = thresholds
    # Refused: what cannot be aged at all (no real face, too few pixels, a profile the alignment cannot frame).
    refusals = [
        (face.probability < t.min_probability, "low_detection_probability"),
        (size < t.min_face_px, "face_too_small"),
        (abs(yaw) > t.max_yaw or abs(pitch) > t.max_pitch, "extreme_pose"),
    ]
    # Aged with a warning: soft, dark or washed-out faces still age well (the aging keeps the photo's own
    # pixels), and refusing them turned away ordinary phone photos; the user is told why it may look worse.
    cautions = [
        (sharpness < t.min_sharpness, "blurred"),
        (brightness < t.min_brightness, "underexposed"),
        (brightness > t.max_brightness, "overexposed"),
        (clipped > t.max_clipped_share, "clipped_exposure"),
        (colourfulness < t.grayscale_colourfulness, "grayscale"),
    ]
    reasons = [name for failed, name in refusals if failed]
    warnings = [name for failed, name in cautions if failed]
    return QualityReport(
        detection_probability=face.probability,
        face_size_px=size,
        sharpness=sharpness,
        brightness=brightness,
        clipped_share=clipped,
        colourfulness=colourfulness,
        yaw=yaw,
        pitch=pitch,
        roll_degrees=roll,
        usable=not reasons,
        reasons=reasons,
        warnings=warnings,
    )


def sharpness_crop(gray: np.ndarray, face: DetectedFace) -> np.ndarray:
    """The analysis crop at the face's own resolution when the alignment enlarged it (and at least
    MIN_SHARPNESS_SIZE), so a small face in focus is as sharp as a large one."""
    matrix = similarity_transform(face.landmarks, template_for(gray.shape[0]))
    enlargement = float(np.hypot(matrix[0, 0], matrix[1, 0]))  # crop pixels per photo pixel
    own_size = max(MIN_SHARPNESS_SIZE, round(gray.shape[0] / enlargement))
    if own_size >= gray.shape[0]:
        return gray
    return cv2.resize(gray, (own_size, own_size), interpolation=cv2.INTER_AREA)


def central_region(gray: np.ndarray) -> np.ndarray:
    """The inner face (eyes to mouth), away from hair and background, which would skew every measure."""
    size = gray.shape[0]
    top, bottom = int(size * 0.15), int(size * 0.75)
    left, right = int(size * 0.2), int(size * 0.75)
    return gray[top:bottom, left:right]
