"""Maps sampled between the prototypes' reference frame and a face's pixels (the renderer's one warp of every
per-pixel change)."""

from __future__ import annotations

import cv2
import numpy as np


def rescaled_map(to_reference: tuple[np.ndarray, np.ndarray], factor: float) -> tuple[np.ndarray, np.ndarray]:
    """A sampling map into the reference frame, for the same frame stored `factor` times as large."""
    return tuple(np.ascontiguousarray((m + 0.5) * factor - 0.5) for m in to_reference)


def remap(maps: np.ndarray, to_reference: tuple[np.ndarray, np.ndarray], outside: float | None = None) -> np.ndarray:
    """(H, W, C) maps in the reference frame, sampled at the face's pixels: (h, w, C), C kept even when 1.
    Beyond the reference frame the maps' edge is repeated, or `outside` is used."""
    map_x, map_y = to_reference
    border = (cv2.BORDER_REPLICATE, 0.0) if outside is None else (cv2.BORDER_CONSTANT, outside)
    sampled = cv2.remap(maps, map_x, map_y, cv2.INTER_LINEAR, borderMode=border[0], borderValue=border[1])
    return sampled if sampled.ndim == 3 else sampled[..., None]
