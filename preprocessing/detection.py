"""Face detection with facenet-pytorch's MTCNN: boxes, probabilities and five landmarks per face.

Detection runs on a downscaled copy of the photo (MTCNN's cost grows with the pixel count and faces in
phone photos are large), on a larger one only when the photo's faces are small (see `FaceDetector`), and the
results are mapped back to the photo's own pixel coordinates.
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


MTCNN_WINDOW_PX = 12  # MTCNN's first network sees faces through a 12 px window: nothing smaller is found
# The minimum face size handed to MTCNN is this share of the smallest face wanted: its boxes come out a little
# smaller than the faces its windows matched.
_WINDOW_MARGIN = 0.8


class FaceDetector:
    """MTCNN, loaded once and reused; weights ship inside facenet-pytorch, so nothing is downloaded.

    Faces are looked for in two passes. The quick one looks on a copy of at most `detect_side` px for faces of
    `quick_face_px` and up, which is all a portrait or a phone photo of a few people needs. When it finds no
    face, or a face under twice its smallest, the photo may hold faces smaller than it can see (a group
    photo), and a fine pass looks on a copy of up to `fine_side` px for faces down to `min_face_px`.
    """

    def __init__(
        self,
        device: str = "cpu",
        detect_side: int = 800,
        min_face_px: int = 16,
        quick_face_px: int = 40,
        fine_side: int = 2048,
    ):
        import torch

        from preprocessing.mtcnn import mtcnn_class  # imported here: PyTorch is slow to import

        self.detect_side = detect_side
        self.min_face_px = min_face_px
        self.quick_face_px = max(quick_face_px, min_face_px)
        self.fine_side = fine_side
        self._mtcnn = mtcnn_class()(keep_all=True, device=device, post_process=False)
        # Its three small networks run two to three times faster with their weights in channels-last order (oneDNN's
        # convolutions prefer it on the CPU; measured on a 2-core AMD EPYC: the first network on an 800 x 600 copy
        # 28 -> 13 ms); the same faces on 43 photos, boxes within 1e-3 px.
        self._mtcnn.to(memory_format=torch.channels_last)

    def detect(self, pixels: np.ndarray, max_faces: int | None = 10) -> list[DetectedFace]:
        """Faces in an RGB uint8 photo, largest first, at most `max_faces` (None: all), none smaller than
        `min_face_px`. A photo too small to hold a face MTCNN can see has none (MTCNN itself would raise)."""
        long_side = max(pixels.shape[:2])
        quick_scale = min(1.0, self.detect_side / long_side)
        fine_scale = min(1.0, self.fine_side / long_side)
        faces = self._pass(pixels, quick_scale, self.quick_face_px)
        quick_floor = _smallest_visible(quick_scale, self.quick_face_px)
        may_miss_faces = not faces or faces[-1].size < 2 * quick_floor
        if may_miss_faces and _smallest_visible(fine_scale, self.min_face_px) < quick_floor:
            faces = self._pass(pixels, fine_scale, self.min_face_px)  # it finds the large faces too
        return faces[:max_faces]

    def _pass(self, pixels: np.ndarray, scale: float, min_face_px: float) -> list[DetectedFace]:
        """One MTCNN run on a copy of the photo at `scale`: faces of `min_face_px` and up, largest first."""
        small = pixels if scale == 1.0 else _resized(pixels, scale)
        # MTCNN's image pyramid starts at its minimum face size: a smaller one finds smaller faces, slower.
        # Its pyramid is empty (and MTCNN raises) when the image's short side is below that size.
        min_size = min(max(MTCNN_WINDOW_PX, int(min_face_px * scale * _WINDOW_MARGIN)), min(small.shape[:2]))
        if min_size < MTCNN_WINDOW_PX:
            return []
        self._mtcnn.min_face_size = min_size
        boxes, probs, landmarks = self._mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return []
        faces = [
            DetectedFace(box=_floats(box) / scale, probability=float(prob), landmarks=_floats(marks) / scale)
            for box, prob, marks in zip(boxes, probs, landmarks)
        ]
        faces = [face for face in faces if face.size >= self.min_face_px]
        faces.sort(key=lambda face: face.size, reverse=True)
        return faces

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


def _smallest_visible(scale: float, min_face_px: float) -> float:
    """The smallest face a pass on a copy at `scale` looking for `min_face_px` finds, in the photo's pixels."""
    return max(min_face_px, MTCNN_WINDOW_PX / (_WINDOW_MARGIN * scale))


def _floats(values) -> np.ndarray:
    """MTCNN hands back object arrays for batches; everything downstream wants plain float64."""
    return np.asarray(values, dtype=np.float64)


def _resized(pixels: np.ndarray, scale: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
