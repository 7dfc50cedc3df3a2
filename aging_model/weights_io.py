"""Serving weights on disk: safetensors (no pickle, so loading runs no code) in float16, with a JSON
description in the file's metadata and beside it.

float16 halves the size in the repository; the rounding (about 1e-3 relative) is far below what an 8-bit
output image or an age in years can show.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file


def save_weights(path: Path, tensors: dict[str, torch.Tensor], metadata_key: str, info: dict) -> None:
    """Write `tensors` (floating ones as float16) with `info` under `metadata_key`, atomically."""
    stored = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu()
        stored[name] = (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(stored, str(tmp), metadata={metadata_key: json.dumps(info)})
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")


def load_weights(path: Path, metadata_key: str, kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(float32 tensors, info); FileNotFoundError or ValueError with a message that names `kind`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            info = json.loads((handle.metadata() or {})[metadata_key])
        tensors = load_file(str(path))
    except Exception as error:  # not safetensors (SafetensorError), or no metadata of ours (KeyError)
        raise ValueError(f"{path} is not a Faceage {kind} (safetensors with a faceage config): {error}") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, info
