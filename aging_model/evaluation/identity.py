"""Who a face is: dlib's face-recognition ResNet (128-d embeddings), offline from face-recognition-models.

Two faces whose embeddings are less than 0.6 apart are the same person by dlib's own threshold (99.38% on
LFW). Used to check that aging keeps the person, and (in curation) to find the same person twice.
"""

from __future__ import annotations

import cv2
import numpy as np

from preprocessing.landmarks import CHIP_FACE_BOX, face_recognition_models_dir

SAME_PERSON_DISTANCE = 0.6
_WORK_SIZE = 200  # crops are scaled to the chip size the alignment template is defined in


class FaceEmbedder:
    """dlib's 5-point shape predictor and ResNet embedder, loaded once."""

    def __init__(self):
        import dlib

        models = face_recognition_models_dir()
        self._dlib = dlib
        self._shape_predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed_aligned(self, crops: np.ndarray) -> np.ndarray:
        """(N, 128) embeddings of chip-framed aligned faces (N, R, R, 3) uint8, at any resolution R."""
        if len(crops) == 0:
            return np.zeros((0, 128), np.float32)
        chips = aligned_face_chips(self._dlib, self._shape_predictor, crops)
        return np.array(self._net.compute_face_descriptor(chips), dtype=np.float32)


def aligned_face_chips(dlib, shape_predictor, crops: np.ndarray) -> list[np.ndarray]:
    """The 150 px chips dlib's face-recognition network takes, one per chip-framed aligned face (any size)."""
    box = dlib.rectangle(*CHIP_FACE_BOX)  # the crops are aligned: no detector
    chips = []
    for crop in crops:
        image = np.ascontiguousarray(cv2.resize(crop, (_WORK_SIZE, _WORK_SIZE), interpolation=cv2.INTER_CUBIC))
        chips.append(dlib.get_face_chip(image, shape_predictor(image, box), size=150, padding=0.25))
    return chips


def identity_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between embeddings, row by row (broadcasts (N, 128) against (N, 128) or (128,))."""
    return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1)
