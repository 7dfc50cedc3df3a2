"""Face detection with facenet-pytorch's MTCNN: boxes, probabilities and five landmarks per face.

Detection runs on a downscaled copy of the photo (MTCNN's cost grows with the pixel count and faces in
phone photos are large) and the results are mapped back to the photo's own pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DetectedFace:
    """One face found in a photo, in the photo's pixel coordinates.

    `landmarks` is a (5, 2) array: the eye on the image's left, the eye on the image's right, the nose tip,
    the mouth corner on the image's left and the one on the image's right.
    """

    box: np.ndarray
    probability: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels."""
        x1, y1, x2, y2 = self.box
        return float(min(x2 - x1, y2 - y1))


class FaceDetector:
    """MTCNN, loaded once and reused; weights ship inside facenet-pytorch, so nothing is downloaded."""

    def __init__(self, device: str = "cpu", detect_side: int = 800, min_face_px: int = 40):
        from preprocessing.mtcnn import mtcnn_class  # imported here: PyTorch is slow to import

        self.detect_side = detect_side
        self.min_face_px = min_face_px
        self._mtcnn = mtcnn_class()(keep_all=True, device=device, post_process=False)

    def detect(self, pixels: np.ndarray, max_faces: int = 10) -> list[DetectedFace]:
        """Faces in an RGB uint8 photo, largest first, at most `max_faces`, none smaller than `min_face_px`."""
        scale = min(1.0, self.detect_side / max(pixels.shape[:2]))
        small = pixels if scale == 1.0 else _downscale(pixels, scale)
        # MTCNN's image pyramid starts at its minimum face size: a smaller one finds smaller faces, slower.
        self._mtcnn.min_face_size = max(12, int(self.min_face_px * scale * 0.8))
        boxes, probs, landmarks = self._mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return []
        faces = [
            DetectedFace(box=_floats(box) / scale, probability=float(prob), landmarks=_floats(marks) / scale)
            for box, prob, marks in zip(boxes, probs, landmarks)
        ]
        faces = [face for face in faces if face.size >= self.min_face_px]
        faces.sort(key=lambda face: face.size, reverse=True)
        return faces[:max_faces]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[DetectedFace]]:
        """Faces in several same-sized small images (dataset chips) in one MTCNN call."""
        self._mtcnn.min_face_size = 20
        boxes, probs, landmarks = self._mtcnn.detect(np.stack(images), landmarks=True)
        results = []
        for image_boxes, image_probs, image_marks in zip(boxes, probs, landmarks):
            if image_boxes is None:
                results.append([])
                continue
            faces = [
                DetectedFace(box=_floats(b), probability=float(p), landmarks=_floats(m))
                for b, p, m in zip(image_boxes, image_probs, image_marks)
            ]
            results.append(faces)
        return results


def _floats(values) -> np.ndarray:
    """MTCNN hands back object arrays for batches; everything downstream wants plain float64."""
    return np.asarray(values, dtype=np.float64)


def _downscale(pixels: np.ndarray, scale: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
