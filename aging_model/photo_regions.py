"""Regions of the photo around a face, found at a small working size in chip units and carried back onto the
photo's own pixels: where the hair and the neck are looked for (they lie outside the face crop the renderer ages)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class WorkRegion:
    """A region around a face in chip units (0..1 = the chip framing), sampled at `work_side` px per chip side."""

    to_region: np.ndarray  # 2x3, photo -> region pixels
    size: tuple[int, int]  # (width, height) of the region in pixels
    origin: tuple[float, float]  # the region's top-left corner in work pixels of the chip (x, y)
    work_side: int

    @classmethod
    def around(cls, matrix: np.ndarray, crop_size: int, work_side: int, bounds) -> WorkRegion:
        """The region `bounds` (left, top, right, bottom, chip units) of the face whose chip-framed crop of
        `crop_size` px is made by `matrix` (photo -> crop, 2x3)."""
        left, top, right, bottom = bounds
        to_work = np.asarray(matrix, np.float64) * (work_side / crop_size)
        origin = (left * work_side, top * work_side)
        to_region = to_work.copy()
        to_region[:, 2] -= origin
        size = (round((right - left) * work_side), round((bottom - top) * work_side))
        return cls(to_region, size, origin, work_side)

    def sample(self, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(region pixels, inside): the photo over the region, its edge repeated beyond the photo's border (black
        there would read as a dark object along it), and 1 where the region lies inside the photo (eroded)."""
        region = cv2.warpAffine(
            photo, self.to_region, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        inside = cv2.warpAffine(np.ones(photo.shape[:2], np.uint8), self.to_region, self.size, flags=cv2.INTER_NEAREST)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        return region, inside

    def pixels_of(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points in chip units as region pixels."""
        return np.asarray(points, np.float64) * self.work_side - np.array(self.origin)

    def to_photo(self, mask: np.ndarray, photo_shape) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """(box (x0, y0, x1, y1) in the photo, the mask over that box): the region's mask (h, w, C) carried back
        onto the photo's pixels over the bounding box of its non-zero part (channel 0); None where it is empty or
        lies outside the photo."""
        height, width = photo_shape[:2]
        rows, columns = np.nonzero(mask[..., 0] > 0.02)
        if len(rows) == 0:
            return None
        corners = np.array(
            [
                [columns.min(), rows.min()],
                [columns.max() + 1, rows.min()],
                [columns.min(), rows.max() + 1],
                [columns.max() + 1, rows.max() + 1],
            ],
            np.float64,
        )
        from_region = cv2.invertAffineTransform(self.to_region)
        mapped = corners @ from_region[:, :2].T + from_region[:, 2]
        x0, y0 = np.maximum(np.floor(mapped.min(axis=0)).astype(int), 0)
        x1, y1 = np.ceil(mapped.max(axis=0)).astype(int)
        x1, y1 = min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            return None
        shifted = self.to_region.copy()
        shifted[:, 2] += self.to_region[:, :2] @ np.array([x0, y0], np.float64)
        photo_mask = cv2.warpAffine(
            mask, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0.0
        )
        photo_mask = photo_mask if photo_mask.ndim == 3 else photo_mask[..., None]
        return (int(x0), int(y0), int(x1), int(y1)), photo_mask
