"""dlib's face-recognition ResNet run by PyTorch: the same 128-d embeddings, four to five times faster on a CPU.

The pip build of dlib has no BLAS, so its ResNet takes about 60-80 ms per face on one core and uses one core
only; it was four fifths of the curation pass. This module reads the very same weights from
`dlib_face_recognition_resnet_model_v1.dat` (dlib's own serialisation: every parameter tensor is 4-byte
little-endian floats behind a small header) into the same network in PyTorch, whose convolutions use the
CPU's vector units. The chip extraction stays dlib's (its 5-point shape predictor and `get_face_chip`, about
1 ms), so the network sees exactly the pixels that dlib's own `compute_face_descriptor` sees. Embeddings agree
with dlib's to about 1e-5 (float rounding), far below the 0.6 that separates people.

The network, as in dlib's `dnn_face_recognition_ex.cpp`: a 7x7/2 convolution, 3x3/2 max pool, residual
stages of 32 (x3), 64 (x4), 128 (x3), 256 (x3) and 256 (x1) filters (the first block of each stage from 64 on
halves the size with a stride-2 convolution beside a 2x2 average pool), a global average and a 256 -> 128
linear layer. Batch norm was folded into per-channel `affine` layers by dlib, and here into the convolutions.
dlib adds tensors of different shapes as if the smaller were padded with zeros (channels 32 -> 64, and 3x3
against 4x4 at the 256 stage); `_padded_add` does the same.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aging_model.evaluation.identity import aligned_face_chips
from preprocessing.landmarks import face_recognition_models_dir

_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_MEAN_RGB = (122.782, 117.001, 104.298)  # dlib's input_rgb_image_sized: (pixel - mean) / 256
# (filters, residual blocks, whether the stage's first block halves the size), from the input up.
_STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def _unpack_int(data: bytes, at: int) -> tuple[int, int]:
    """dlib's packed integer: a byte holding the length (and 0x80 when negative), then little-endian bytes."""
    head = data[at]
    size, negative = head & 0x0F, head & 0x80
    value = int.from_bytes(data[at + 1 : at + 1 + size], "little")
    return (-value if negative else value), at + 1 + size


def _tensor_after(data: bytes, tag: bytes, start: int, skip_ints: int = 0) -> tuple[np.ndarray, int]:
    """The parameter tensor serialised after the layer's version string `tag` (found from `start`) and
    `skip_ints` packed integers."""
    at = data.find(struct.pack("B", len(tag)) + tag, start)  # a string is its packed length, then its bytes
    if at < 0:
        raise ValueError(f"{tag.decode()} not found in {_MODEL_FILE}")
    at += 1 + len(tag)  # past the string's length byte and its bytes (its size byte came before)
    for _ in range(skip_ints):
        _, at = _unpack_int(data, at)
    version, at = _unpack_int(data, at)
    if version != 2:
        raise ValueError(f"unexpected tensor version {version} in {_MODEL_FILE}")
    dims = []
    for _ in range(4):
        value, at = _unpack_int(data, at)
        dims.append(value)
    count = int(np.prod(dims))
    values = np.frombuffer(data, dtype="<f4", count=count, offset=at).astype(np.float32)
    return values.reshape(dims), at + 4 * count


def read_dlib_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Every convolution's, affine layer's and the linear layer's parameters, in the network's forward order."""
    data = Path(path).read_bytes()
    convs, affines, at = [], [], 0
    for _ in range(1 + 2 * sum(blocks for _, blocks, _ in _STAGES)):
        params, at = _tensor_after(data, b"con_4", at)
        convs.append(params.ravel())
        params, at = _tensor_after(data, b"affine_", at)
        affines.append(params.ravel())
    fc, _ = _tensor_after(data, b"fc_2", at, skip_ints=2)  # after its numbers of outputs and inputs
    return {"convs": convs, "affines": affines, "fc": [fc.reshape(fc.shape[0], -1)]}


def _padded_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b as dlib adds them: the result has the larger of each size, the smaller tensor padded with zeros."""
    if a.shape == b.shape:
        return a + b
    out = a.new_zeros((a.shape[0], *(max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))))
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


class DlibResNet(torch.nn.Module):
    """dlib_face_recognition_resnet_model_v1 in PyTorch, batch norm folded into the convolutions."""

    def __init__(self, weights: dict[str, list[np.ndarray]]):
        super().__init__()
        convs, affines = iter(weights["convs"]), iter(weights["affines"])
        self._layers: list[tuple[torch.Tensor, torch.Tensor, int]] = []  # (weight, bias, stride)
        params = []

        def conv(inputs: int, filters: int, side: int, stride: int) -> int:
            flat, affine = next(convs), next(affines)
            weight = flat[: filters * inputs * side * side].reshape(filters, inputs, side, side)
            bias = flat[filters * inputs * side * side :]
            gamma, beta = affine[:filters], affine[filters:]
            folded_w = torch.from_numpy(weight * gamma[:, None, None, None])
            folded_b = torch.from_numpy(bias * gamma + beta)
            params.extend([folded_w, folded_b])
            self._layers.append((folded_w, folded_b, stride))
            return filters

        channels = conv(3, 32, 7, 2)
        self._plan = []  # each residual block's stride; its two convolutions follow in self._layers
        for filters, blocks, halves in _STAGES:
            for block in range(blocks):
                stride = 2 if halves and block == 0 else 1
                conv(channels, filters, 3, stride)
                conv(filters, filters, 3, 1)
                self._plan.append(stride)
                channels = filters
        self._fc = torch.from_numpy(np.ascontiguousarray(weights["fc"][0]))  # (256, 128): x @ W
        for i, p in enumerate(params):
            self.register_buffer(f"p{i}", p, persistent=False)

    @torch.inference_mode()
    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        """(N, 128) descriptors of (N, 3, 150, 150) float chips already normalised as dlib's input layer does."""
        layers = iter(self._layers)
        w, b, s = next(layers)
        x = F.max_pool2d(F.relu(F.conv2d(chips, w, b, stride=s)), 3, 2)
        for stride in self._plan:
            w1, b1, s1 = next(layers)
            w2, b2, _ = next(layers)
            if stride == 1:
                y = F.conv2d(F.relu(F.conv2d(x, w1, b1, stride=s1, padding=1)), w2, b2, padding=1)
                x = F.relu(x + y)
            else:  # stride-2 convolutions in dlib have no padding, nor has the 2x2 average pool beside them
                y = F.conv2d(F.relu(F.conv2d(x, w1, b1, stride=s1)), w2, b2, padding=1)
                x = F.relu(_padded_add(F.avg_pool2d(x, 2, 2), y))
        return x.mean(dim=(2, 3)) @ self._fc


class TorchFaceEmbedder:
    """Drop-in for `aging_model.evaluation.identity.FaceEmbedder` (same `embed_aligned`), with the ResNet in PyTorch."""

    def __init__(self, models_dir: Path | None = None):
        import dlib

        models = Path(models_dir or face_recognition_models_dir())
        self._dlib = dlib
        self._shape_predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = DlibResNet(read_dlib_weights(models / _MODEL_FILE)).eval()
        self._mean = torch.tensor(_MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1)

    def face_chips(self, crops: np.ndarray) -> np.ndarray:
        """(N, 150, 150, 3) uint8: the chips dlib's `compute_face_descriptor` would be given, as FaceEmbedder does."""
        return np.stack(aligned_face_chips(self._dlib, self._shape_predictor, crops))

    def embed_chips(self, chips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, 128) descriptors of (N, 150, 150, 3) uint8 dlib face chips."""
        out = []
        for start in range(0, len(chips), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(chips[start : start + batch_size])).permute(0, 3, 1, 2).float()
            out.append(self._net((x - self._mean) / 256.0).numpy())
        return np.concatenate(out).astype(np.float32)

    def embed_aligned(self, crops: np.ndarray) -> np.ndarray:
        """(N, 128) embeddings of chip-framed aligned faces (N, R, R, 3) uint8, at any resolution R."""
        if len(crops) == 0:
            return np.zeros((0, 128), np.float32)
        return self.embed_chips(self.face_chips(crops))
