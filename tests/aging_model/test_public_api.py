"""The public Python API: README's "From Python" block runs as it is, and the API's own promises hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

ROOT = Path(__file__).resolve().parents[2]


def _readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### From Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_snippet_runs_as_written_in_ten_lines(tmp_path):
    snippet = _readme_snippet()
    assert len([line for line in snippet.splitlines() if line.strip()]) <= 10
    (tmp_path / "docs").mkdir()
    for name in ("astronaut.jpg", "obama.jpg"):
        shutil.copy(ROOT / "docs" / name, tmp_path / "docs" / name)
    run = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert 20 < float(run.stdout.strip().splitlines()[-1]) < 50  # the astronaut's own age, as the estimator reads it
    aged = tmp_path / "aged"
    report = json.loads((aged / "result.json").read_text())
    assert [c["file"] for c in report["composites"]] == ["photo-age-005.jpg", "photo-age-040.jpg", "photo-age-080.jpg"]
    for name in ("photo-age-080.jpg", "face-1/age-005.png", "lifespan-photo.mp4", "face-1/lifespan.gif", "morph.mp4"):
        assert (aged / name).stat().st_size > 1000, name


@pytest.fixture(scope="module")
def ager():
    from aging_model import FaceAger

    return FaceAger(renderer="caae", device="cpu")


def test_an_array_photo_gives_the_same_faces_as_its_file(ager):
    from aging_model import AgedPhoto

    result = ager.age(data.astronaut(), ages=[60])
    assert isinstance(result, AgedPhoto) and result.ages == [60.0]
    assert result.composites[0].shape == data.astronaut().shape and result.composites[0].dtype == np.uint8
    [face] = result.faces
    assert face.aged.shape[0] == 1 and result.report["faces"][0]["aged"] is True
    assert result.report["photo"] == "photo"


def test_a_photo_without_a_face_raises_a_photo_error_that_says_why(ager):
    from aging_model import PhotoError

    with pytest.raises(PhotoError, match="no face found"):
        ager.age(np.full((200, 300, 3), 127, np.uint8))


def test_an_array_that_is_not_pixels_is_refused_with_the_shapes_it_takes(ager):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ager.age(np.zeros((64, 64, 3), np.float32))


def test_importing_the_package_loads_no_model():
    check = "import sys, aging_model; sys.exit('torch' in sys.modules or 'aging_model.api' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], cwd=ROOT).returncode == 0
