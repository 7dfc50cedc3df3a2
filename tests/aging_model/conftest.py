from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preprocessing.alignment import align_face


@pytest.fixture(scope="session")
def tiny_utkface(tmp_path_factory, astronaut, detector) -> Path:
    """A UTKFace-style folder of 12 real face chips (the astronaut, varied) with labels in the names."""
    folder = tmp_path_factory.mktemp("tiny_utkface")
    face = detector.detect(astronaut)[0]
    chip = align_face(astronaut, face.landmarks, 200).pixels
    rng = np.random.default_rng(0)
    for i in range(12):
        varied = np.clip(chip.astype(np.float32) * rng.uniform(0.7, 1.2) + rng.normal(0, 4, chip.shape), 0, 255)
        age, gender = [3, 8, 14, 19, 25, 35, 45, 55, 65, 80, 30, 40][i], i % 2
        Image.fromarray(varied.astype(np.uint8)).save(folder / f"{age}_{gender}_0_20170101000000{i:03d}.jpg.chip.jpg")
    (folder / "broken_name.jpg.chip.jpg").write_bytes(b"not labelled")
    return folder


@pytest.fixture(scope="session")
def landmarker():
    from preprocessing.landmarks import DenseLandmarker

    return DenseLandmarker()


@pytest.fixture(scope="session")
def face(astronaut, detector, landmarker):
    """The astronaut aligned at the prototypes' size (256 px), with her 68 landmarks."""
    from aging_model.prototypes.age_prototypes import TEXTURE_SIZE

    crop = align_face(astronaut, detector.detect(astronaut)[0].landmarks, TEXTURE_SIZE).pixels
    return crop, landmarker.landmarks(crop)
