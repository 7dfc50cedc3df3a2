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


@pytest.fixture(scope="session")
def detector():
    from preprocessing.detection import FaceDetector

    return FaceDetector()


@pytest.fixture(scope="session")
def utkface_dir() -> Path:
    if not UTKFACE_DIR.is_dir():
        pytest.skip(f"dataset-scale check: UTKFace is not at {UTKFACE_DIR} on this machine")
    return UTKFACE_DIR
