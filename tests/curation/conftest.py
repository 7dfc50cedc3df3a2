"""Dataset-like images made from the astronaut (a real face on any machine), one per thing curation must find."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image


def chip_of(astronaut: np.ndarray, left: int = 122, top: int = 25) -> np.ndarray:
    """A 200 px crop framed like a UTKFace chip: the face centred with hair and chin around it."""
    return np.ascontiguousarray(astronaut[top : top + 200, left : left + 200])


def reencoded(pixels: np.ndarray, side: int, quality: int) -> np.ndarray:
    """The same photo saved again smaller and as a lower quality JPEG: what copying around a dataset does."""
    image = Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _captioned(pixels: np.ndarray) -> np.ndarray:
    """A black band with white text along the bottom, as on a news still."""
    out = pixels.copy()
    cv2.rectangle(out, (0, 170), (199, 199), (0, 0, 0), -1)
    cv2.putText(out, "Memories 2016", (15, 192), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


@pytest.fixture(scope="session")
def reencode():
    return reencoded


@pytest.fixture(scope="session")
def chip(astronaut) -> np.ndarray:
    return chip_of(astronaut)


@pytest.fixture(scope="session")
def dataset_images(astronaut, chip) -> dict[str, np.ndarray]:
    """Each flag's trigger, by name, plus the clean chip that must raise none."""
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return {
        "clean": chip,
        "blurred": cv2.GaussianBlur(chip, (0, 0), 3),
        "grayscale": np.repeat(gray[..., None], 3, axis=2),
        "underexposed": (chip * 0.2).astype(np.uint8),
        "overexposed": np.clip(chip.astype(np.int16) + 110, 0, 255).astype(np.uint8),
        "low_resolution": cv2.resize(chip, (48, 48), interpolation=cv2.INTER_AREA),
        "several_faces": np.hstack([chip, chip]),
        "no_face": np.full((200, 200, 3), 128, np.uint8),
        "face_too_small": astronaut,  # the whole photo: the face is a sixth of it
        "cut_off": chip_of(astronaut, left=200),  # the face's left half outside the frame
        "text_overlay": _captioned(chip),
    }


@pytest.fixture(scope="session")
def models():
    from curation.analysis import CurationModels

    return CurationModels.load(device="cpu")
