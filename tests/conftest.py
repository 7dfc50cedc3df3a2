"""Fixtures shared by every test package: a real face photo on any machine, the detector, the dataset."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

UTKFACE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "utkface"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """Eileen Collins' NASA portrait (512 x 512 RGB), a real face shipped inside scikit-image."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


# Her head and shoulders in the astronaut photo, and her face box's (MTCNN) short side and centre in them.
_PERSON = (slice(0, 330), slice(110, 340))
_PERSON_FACE_PX = 88.0
_PERSON_FACE_CENTRE = (112.7, 117.2)


@pytest.fixture(scope="session")
def group_photo(astronaut):
    """Makes a 560 x 420 "group photo": for each size given, the astronaut's head and shoulders scaled so her
    face box is about that many pixels, every other one mirrored, a little brighter or darker, on a wall.
    Returns the pixels and the centre (x, y) of each face."""
    import cv2

    person = astronaut[_PERSON]

    def make(face_sizes: list[float]) -> tuple[np.ndarray, list[tuple[float, float]]]:
        rng = np.random.default_rng(0)
        wall = np.linspace(100, 160, 560)[None, :, None] + rng.normal(0, 4, (420, 560, 3))
        canvas = np.clip(wall, 0, 255).astype(np.uint8)
        centres = []
        for index, face_px in enumerate(face_sizes):  # up to 8, in two rows of four
            scale = face_px / _PERSON_FACE_PX
            picture = person if index % 2 == 0 else person[:, ::-1]
            scaled = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            scaled = np.clip(scaled * rng.uniform(0.85, 1.1), 0, 255).astype(np.uint8)
            row, column = divmod(index, 4)
            top, left = row * 210 + 20, column * 140 + 10
            canvas[top : top + scaled.shape[0], left : left + scaled.shape[1]] = scaled
            x = _PERSON_FACE_CENTRE[0] if index % 2 == 0 else person.shape[1] - _PERSON_FACE_CENTRE[0]
            centres.append((left + x * scale, top + _PERSON_FACE_CENTRE[1] * scale))
        return canvas, centres

    return make


@pytest.fixture(scope="session")
def detector():
    from preprocessing.detection import FaceDetector

    return FaceDetector()


@pytest.fixture(scope="session")
def utkface_dir() -> Path:
    if not UTKFACE_DIR.is_dir():
        pytest.skip(f"dataset-scale check: UTKFace is not at {UTKFACE_DIR} on this machine")
    return UTKFACE_DIR
