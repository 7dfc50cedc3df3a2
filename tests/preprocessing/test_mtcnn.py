"""MTCNN imported without torchvision: the stand-in NMS keeps what torchvision's keeps, and a real import of
torchvision afterwards still gets the real package."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from preprocessing.mtcnn import batched_nms


@pytest.mark.parametrize("seed", range(5))
def test_the_stand_in_nms_keeps_the_boxes_torchvision_keeps(seed):
    from torchvision.ops import batched_nms as torchvision_batched_nms

    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 200, (400, 2))
    sizes = rng.uniform(5, 60, (400, 2))
    boxes = torch.tensor(np.hstack([corners, corners + sizes]), dtype=torch.float32)
    scores = torch.tensor(rng.uniform(0, 1, 400), dtype=torch.float32)
    groups = torch.tensor(rng.integers(0, 3, 400))
    for threshold in (0.5, 0.7):
        expected = torchvision_batched_nms(boxes, scores, groups, threshold)
        assert torch.equal(batched_nms(boxes, scores, groups, threshold), expected)


def test_no_boxes_keep_nothing():
    kept = batched_nms(torch.empty((0, 4)), torch.empty((0,)), torch.empty((0,), dtype=torch.int64), 0.5)
    assert kept.shape == (0,) and kept.dtype == torch.int64


def test_mtcnn_imports_without_torchvision_and_leaves_the_real_one_importable():
    probe = (
        "import sys\n"
        "from preprocessing.mtcnn import mtcnn_class\n"
        "mtcnn_class()\n"
        "assert 'torchvision' not in sys.modules and 'torch._dynamo' not in sys.modules, 'torchvision was imported'\n"
        "import torchvision.ops\n"
        "assert hasattr(torchvision, '__version__') and hasattr(torchvision.ops, 'roi_align')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


_DETECT_ASTRONAUT = """
import json, sys
if sys.argv[1] == "torchvision":
    import torchvision.ops  # facenet-pytorch then takes the real batched_nms
from skimage import data
from preprocessing.detection import FaceDetector
faces = FaceDetector().detect(data.astronaut())
print(json.dumps([[*f.box.tolist(), f.probability, *f.landmarks.ravel().tolist()] for f in faces]))
"""


def test_the_detector_finds_the_same_faces_as_with_torchvision():
    found = {}
    for variant in ("stand-in", "torchvision"):
        done = subprocess.run(
            [sys.executable, "-c", _DETECT_ASTRONAUT, variant], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        found[variant] = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert found["stand-in"].shape == (1, 15)
    assert np.allclose(found["stand-in"], found["torchvision"], atol=1e-4)
