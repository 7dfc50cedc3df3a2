"""dlib's face-recognition ResNet in PyTorch must give dlib's own embeddings."""

import cv2
import numpy as np
import pytest

from curation.embedder import _padded_add


@pytest.fixture(scope="module")
def embedders():
    from aging_model.evaluation.identity import FaceEmbedder
    from curation.embedder import TorchFaceEmbedder

    return FaceEmbedder(), TorchFaceEmbedder()


def test_the_torch_network_gives_dlibs_embeddings(embedders, chip):
    dlib_embedder, torch_embedder = embedders
    crop = cv2.resize(chip, (128, 128), interpolation=cv2.INTER_AREA)
    crops = np.stack([crop, cv2.GaussianBlur(crop, (0, 0), 2), cv2.flip(crop, 1), (crop * 0.5).astype(np.uint8)])
    expected, got = dlib_embedder.embed_aligned(crops), torch_embedder.embed_aligned(crops)
    assert got.shape == (4, 128) and got.dtype == np.float32
    # float rounding only: people are told apart at 0.6
    assert np.linalg.norm(expected - got, axis=1).max() < 1e-4
    assert torch_embedder.embed_aligned(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 128)


def test_batches_do_not_change_an_embedding(embedders, chip):
    _, torch_embedder = embedders
    crops = np.stack([cv2.resize(chip, (96, 96), interpolation=cv2.INTER_AREA)] * 5)
    chips = torch_embedder.face_chips(crops)
    one_by_one = np.concatenate([torch_embedder.embed_chips(chips[i : i + 1]) for i in range(5)])
    assert np.abs(torch_embedder.embed_chips(chips, batch_size=2) - one_by_one).max() < 1e-5


def test_tensors_of_different_shapes_add_as_in_dlib():
    import torch

    a, b = torch.ones(1, 2, 4, 4), torch.full((1, 3, 3, 3), 2.0)
    out = _padded_add(a, b)
    assert out.shape == (1, 3, 4, 4)
    assert out[0, 0, 0, 0] == 3 and out[0, 0, 3, 3] == 1 and out[0, 2, 0, 0] == 2 and out[0, 2, 3, 3] == 0
