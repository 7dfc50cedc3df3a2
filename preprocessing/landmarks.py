"""Dense landmarks: dlib's 68-point shape predictor on a face that is already aligned to the chip framing.

The five MTCNN points place a face; aging needs its outline too (jaw, brows, lips, nose) to reshape it. The
predictor ships in face-recognition-models and runs offline. Because the crop is already aligned, the face box
dlib's predictor starts from is a fixed box in chip units, so no second detector runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

N_LANDMARKS = 68
_CHIP_SIZE = 200
# dlib's own detector box on chip-framed faces (median over UTKFace chips), in 200 px chip units.
CHIP_FACE_BOX = (21, 21, 176, 176)
JAW = slice(0, 17)
BROWS = slice(17, 27)
LEFT_EYE = slice(36, 42)  # image left
RIGHT_EYE = slice(42, 48)
MOUTH = slice(48, 60)  # the lips' outer outline


def eye_distance(landmarks: np.ndarray) -> float:
    """The distance between the two eyes' centres of 68 landmarks (x, y), in their pixels: the unit in which a face's
    proportions are measured, whatever its size."""
    return float(np.linalg.norm(landmarks[LEFT_EYE].mean(axis=0) - landmarks[RIGHT_EYE].mean(axis=0)))


def face_recognition_models_dir() -> Path:
    """The folder of .dat files of face-recognition-models, found without importing the package (its
    __init__ needs pkg_resources, which is not installed)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed; run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DenseLandmarker:
    """dlib's 68-point predictor, loaded once (about 1 s, 100 MB file), applied to aligned crops."""

    def __init__(self):
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(
            str(face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat")
        )

    def landmarks(self, crop: np.ndarray) -> np.ndarray:
        """(68, 2) float32 landmarks, in the crop's pixels, of a chip-framed aligned face (S, S, 3) uint8."""
        size = crop.shape[0]
        box = self._dlib.rectangle(*[round(v * size / _CHIP_SIZE) for v in CHIP_FACE_BOX])
        shape = self._predictor(np.ascontiguousarray(crop), box)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)
