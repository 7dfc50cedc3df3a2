"""Fixtures of the dataset tests: a small UTKFace-style folder with the usual dirt, a fresh database, the
curation models and `faceage` on the command line."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_support import _jpeg

from faceage_cli import main
from service.database import Database


@pytest.fixture(scope="module")
def chip(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[25:225, 122:322])  # framed like a UTKFace chip


@pytest.fixture(scope="module")
def folder(tmp_path_factory, chip) -> Path:
    """A small UTKFace-style folder with the usual dirt: a copy under another label, a malformed name, a file
    that is no image, a truncated JPEG, a blurred face, a blank image, and a file that is not an image type."""
    import cv2

    root = tmp_path_factory.mktemp("utkface-like")
    face = _jpeg(chip)
    (root / "34_1_0_20170101000000001.jpg.chip.jpg").write_bytes(face)
    (root / "62_1_0_20170101000000002.jpg.chip.jpg").write_bytes(face)  # the same bytes, another age
    (root / "35_1_0_20170101000000003.jpg.chip.jpg").write_bytes(_jpeg(np.ascontiguousarray(chip[:, ::-1])))
    (root / "36_1_0_20170101000000004.jpg.chip.jpg").write_bytes(_jpeg(cv2.GaussianBlur(chip, (0, 0), 3)))
    (root / "30_0_0_20170101000000005.jpg.chip.jpg").write_bytes(_jpeg(np.full((200, 200, 3), 128, np.uint8)))
    (root / "portrait.jpg").write_bytes(_jpeg(cv2.resize(chip, (180, 180))))  # no labels in the name
    (root / "40_0_0_20170101000000006.jpg.chip.jpg").write_text("this is not a photo")
    (root / "41_0_0_20170101000000007.jpg.chip.jpg").write_bytes(face[: len(face) // 3])
    (root / "notes.txt").write_text("not an image type: never imported")
    return root


@pytest.fixture
def database(tmp_path, fresh_database) -> Database:
    db = fresh_database(f"sqlite:///{tmp_path / 'faceage.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def models():
    from curation.analysis import CurationModels

    return CurationModels.load(device="cpu")


@pytest.fixture
def cli(tmp_path):
    env = {"FACEAGE_DATA_DIR": str(tmp_path / "data"), "FACEAGE_DATABASE_URL": "", "FACEAGE_DEVICE": "cpu"}
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=env, catch_exceptions=False)
