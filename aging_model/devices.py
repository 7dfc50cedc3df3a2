"""Where the models run: the one place that chooses between CUDA and the CPU."""

from __future__ import annotations

import torch


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
