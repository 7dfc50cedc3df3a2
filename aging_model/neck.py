"""A neck that grows young with the face: made many years younger, an old neck's folds and creases smooth out.

The prototypes age the face inside its crop; the neck lies mostly below it, so a grandmother made 5 kept her own
deeply folded neck under a child's chin, and a man made 5 his stubble stretched up under the risen chin. The neck
is found once in the photo around each face: the skin below the jaw line (dlib's 68 landmarks) with the
chromaticity of the face's own skin (seeded on the cheeks and the forehead; chromaticity, because a neck in the
chin's shadow is darker but not of another colour), joined to the skin just under the chin, with the folds and
shadows it encloses filled in. A white collar, a dark suit, a scarf or a backdrop of another colour is not neck.
At each age it is cut at the jaw line the face has at that age (a child's chin rises; the renderer says where
to) and smoothed: each pixel moves towards the neck's own colour around it (a blur that averages only neck pixels,
so the collar and the background do not bleed in and the neck's outline stays), keeping part of the photo's finest
grain so it still looks like skin in a photo, and under the chin it takes again the shadow the photo's chin casts
on its neck (measured below the photo's jaw line), which the blur would flatten. Going older nothing changes here
(an old neck's folds would need a model of where they fall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from aging_model.photo_regions import WorkRegion
from aging_model.prototypes.face_regions import wide_blur

_WORK_SIDE = 128  # px of the chip's side at which the neck is found (a smooth mask; cheap)
_REGION = (-0.2, 0.0, 1.2, 1.9)  # left, top, right, bottom in chip units: the face's skin seeds and the neck below
_SKIN_SEEDS = ((0.22, 0.4, 0.36, 0.55), (0.64, 0.4, 0.78, 0.55), (0.4, 0.05, 0.6, 0.12))
_BELOW_JAW = 0.02  # chip units below the jaw line where the neck starts (the chin's own edge and shadow stay)
_FEATHER = 0.008  # of the chip's side: the neck's top edge, feathered below that line
_LOWER_JAW = slice(3, 14)  # dlib's points between the jaw's corners: the neck is narrower than the face
# The chin's shadow: the neck's brightness in bands below the jaw (chip units) against its brightness further down.
_SHADOW_BANDS = ((0.0, 0.03), (0.03, 0.06), (0.06, 0.09), (0.09, 0.12))
_FAR_NECK = (0.12, 0.3)
_DARKEST_SHADOW = 0.5
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_RISE = 0.12  # chip units above the photo's jaw line the neck is looked for (where a child's chin rose from)
_CHROMA_SPREAD = 0.012  # the least spread of the skin's chromaticity the colour model admits (an evenly lit face)
_CHROMA_DISTANCE = 2.5  # standard deviations of the skin's chromaticity beyond which a pixel is not skin
_DARKEST, _BRIGHTEST = 0.15, 1.25  # the neck's brightness over the face's skin's, in a shadow and lit
_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # work px: creases up to about 0.05 of the chip
_MIN_AREA = 0.005  # of the chip's area: less neck than this (a beard, a scarf, a cut-off photo) is left alone
_SMOOTHING_SIGMA = 0.12  # of the chip's side: folds and creases narrower than this go
_GRAIN_KEPT = 0.35  # share of the finest detail kept where the neck is smoothed
_GRAIN_SIGMA = 0.004  # of the chip's side
# How much of the neck's detail goes, by years taken away: nothing for a few years, in full from _YEARS_FULL.
_YEARS_FREE, _YEARS_FULL = 10.0, 35.0
_STRENGTH = 0.85


@dataclass
class NeckSkin:
    """One face's neck in one photo: a soft mask over a box of the photo (the skin below where the jaw can be), and
    the face's alignment, to cut it at each age's own jaw line."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo
    mask: np.ndarray  # (y1 - y0, x1 - x0, 1) float32 in [0, 1]
    from_crop: np.ndarray  # 2x3, crop -> photo
    crop_size: int
    # The shadow the photo's chin casts on its neck: the neck's brightness at _SHADOW_BANDS below the jaw over its
    # brightness further down (1 where there is none to measure); laid under the chin where it has risen to.
    shadow: np.ndarray = field(default_factory=lambda: np.ones(len(_SHADOW_BANDS)))

    @classmethod
    def find(cls, photo: np.ndarray, matrix: np.ndarray, crop_size: int, jaw: np.ndarray) -> NeckSkin | None:
        """The neck below the face whose chip-framed crop of `crop_size` px is made by `matrix` (photo -> crop,
        2x3), with its jaw line `jaw` (17, 2) in crop pixels (dlib's points 0-16); None where too little of it
        shows or the face's skin cannot be sampled. The mask reaches _RISE above the jaw: a child's chin rises."""
        area = WorkRegion.around(matrix, crop_size, _WORK_SIDE, _REGION)
        region, inside = area.sample(photo)
        rgb = region.astype(np.float32)
        jaw_line = area.pixels_of(np.asarray(jaw, np.float64) / crop_size)
        seeds = np.concatenate(
            [_pixels_in(rgb, inside, area.pixels_of(np.reshape(box, (2, 2)))) for box in _SKIN_SEEDS]
        )
        if len(seeds) < 20:
            return None
        likely = _skin_likelihood(rgb, seeds) * (inside > 0)
        below = _below(jaw_line, _BELOW_JAW * _WORK_SIDE, area.size)
        if (likely * below > 0.5).sum() < _MIN_AREA * _WORK_SIDE**2:
            return None
        neck = _joined_under_chin(likely * _below(jaw_line, -_RISE * _WORK_SIDE, area.size), jaw_line)
        # The deepest folds and the shadow under an old chin are darker than the skin's colour model admits: what
        # the neck encloses, or nearly (a crease running into the collar), is neck all the same.
        solid = _holes_filled(cv2.morphologyEx(neck, cv2.MORPH_CLOSE, _CLOSING))
        # Feathered inside its outline: a collar or a backdrop beside the neck keeps its own pixels.
        mask = cv2.GaussianBlur(cv2.erode(solid, np.ones((5, 5), np.uint8)).astype(np.float32), (0, 0), 1.5)
        placed = area.to_photo(mask[..., None], photo.shape)
        if placed is None:
            return None
        box, photo_mask = placed
        shadow = _shadow_profile(rgb @ _LUMA, solid > 0, _below_jaw(jaw_line, area.size) / _WORK_SIDE)
        return cls(box, photo_mask, cv2.invertAffineTransform(np.asarray(matrix, np.float64)), crop_size, shadow)

    def apply(self, image: np.ndarray, own_age: float, target_age: float, jaw: np.ndarray) -> None:
        """Smooth the neck in `image` (the photo, or a composite of it) in place below the jaw line `jaw` (17, 2,
        crop pixels: where the face at this age has it), for a face of `own_age` shown at `target_age`; nothing
        unless the target is many years younger."""
        amount = neck_smoothing(own_age, target_age)
        if amount <= 0.01:
            return
        x0, y0, x1, y1 = self.box
        chip_side = self.crop_size * float(np.sqrt(abs(np.linalg.det(self.from_crop[:, :2]))))
        lowered = (np.asarray(jaw, np.float64) + np.array([0.0, _BELOW_JAW * self.crop_size])) @ self.from_crop[:, :2].T
        lowered += self.from_crop[:, 2] - [x0, y0]
        cut = cv2.GaussianBlur(
            _below(lowered, _FEATHER * chip_side, (x1 - x0, y1 - y0)).astype(np.float32), (0, 0), _FEATHER * chip_side
        )
        mask = self.mask * cut[..., None]
        pixels = image[y0:y1, x0:x1].astype(np.float32)
        sigma = _SMOOTHING_SIGMA * chip_side
        smooth = wide_blur(pixels * mask, sigma) / np.maximum(wide_blur(mask[..., 0], sigma)[..., None], 1e-3)
        grain = pixels - cv2.GaussianBlur(pixels, (0, 0), max(0.5, _GRAIN_SIGMA * chip_side))
        depth = _below_jaw(jaw @ self.from_crop[:, :2].T + self.from_crop[:, 2] - [x0, y0], (x1 - x0, y1 - y0))
        smooth = smooth * _shadow_factor(smooth @ _LUMA, mask[..., 0] > 0.5, depth / chip_side, self.shadow)[..., None]
        goal = smooth + _GRAIN_KEPT * grain
        image[y0:y1, x0:x1] = np.clip(pixels + amount * mask * (goal - pixels), 0, 255).astype(np.uint8)


def neck_smoothing(own_age: float, target_age: float) -> float:
    """The share, 0..1, of the neck's folds smoothed for a face of `own_age` shown at `target_age`."""
    years = (own_age - target_age - _YEARS_FREE) / (_YEARS_FULL - _YEARS_FREE)
    return _STRENGTH * float(np.clip(years, 0.0, 1.0))


def _pixels_in(image: np.ndarray, inside: np.ndarray, corners: np.ndarray) -> np.ndarray:
    (x0, y0), (x1, y1) = np.maximum(np.round(corners).astype(int), 0)
    return image[y0:y1, x0:x1][inside[y0:y1, x0:x1] > 0]


def _skin_likelihood(rgb: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(h, w) in [0, 1]: how much each pixel has the face's skin colour. Colour as chromaticity (each channel's
    share of the sum), which shading leaves alone: a neck in the chin's shadow or under stubble keeps the cheeks'
    chromaticity at a fraction of their brightness, where a white collar, a dark suit or another backdrop does not."""
    chroma, brightness = _chromaticity(rgb)
    seed_chroma, seed_brightness = _chromaticity(seeds)
    median = np.median(seed_chroma, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(seed_chroma - median), axis=0), _CHROMA_SPREAD)
    distance = (((chroma - median) / spread) ** 2).sum(axis=-1)
    likely = np.exp(-0.5 * distance / _CHROMA_DISTANCE**2)
    relative = brightness / max(float(np.median(seed_brightness)), 1.0)
    likely *= np.clip((relative - _DARKEST) / 0.1, 0.0, 1.0) * np.clip((_BRIGHTEST - relative) / 0.1, 0.0, 1.0)
    return likely.astype(np.float32)


def _chromaticity(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) red and green shares of the sum, and (...) the sum."""
    total = rgb.sum(axis=-1)
    return rgb[..., :2] / np.maximum(total, 1.0)[..., None], total


def _below(jaw_line: np.ndarray, lowered_by: float, size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8, 1 below the lower jaw line (dlib's points 3-13, between the jaw's corners: the neck is narrower
    than the face) moved down by `lowered_by` px, down to the bottom."""
    width, height = size
    lowered = jaw_line[_LOWER_JAW] + np.array([0.0, lowered_by])
    outline = np.concatenate([lowered, [[lowered[-1, 0], height], [lowered[0, 0], height]]])
    below = np.zeros((height, width), np.uint8)
    cv2.fillPoly(below, [np.round(outline).astype(np.int32)], 1)
    return below


def _joined_under_chin(likely: np.ndarray, jaw_line: np.ndarray) -> np.ndarray:
    """(h, w) uint8: the likely skin joined to the skin just under the chin (dlib's point 8)."""
    skin = (likely > 0.5).astype(np.uint8)
    _, labels = cv2.connectedComponents(skin, connectivity=8)
    chin = jaw_line[8]
    x0, x1 = round(chin[0] - 0.08 * _WORK_SIDE), round(chin[0] + 0.08 * _WORK_SIDE)
    y0, y1 = round(chin[1] + (_BELOW_JAW + 0.01) * _WORK_SIDE), round(chin[1] + 0.15 * _WORK_SIDE)
    under_chin = labels[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    chosen = np.unique(under_chin[under_chin > 0])
    return (np.isin(labels, chosen) & (skin > 0)).astype(np.uint8)


def _holes_filled(mask: np.ndarray) -> np.ndarray:
    """(h, w) uint8: `mask` with every hole that does not reach the region's border filled."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats((mask == 0).astype(np.uint8), connectivity=4)
    height, width = mask.shape
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
    enclosed = (left > 0) & (top > 0) & (right < width) & (bottom < height)
    enclosed[0] = False  # label 0 is the mask itself
    return np.where(enclosed[labels] & (mask == 0), 1, mask).astype(np.uint8)


def _below_jaw(jaw_line: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) how far each pixel lies below the lower jaw line, in pixels (negative above it)."""
    width, height = size
    lower = jaw_line[_LOWER_JAW]
    order = np.argsort(lower[:, 0])
    jaw_y = np.interp(np.arange(width), lower[order, 0], lower[order, 1]).astype(np.float32)
    return np.arange(height, dtype=np.float32)[:, None] - jaw_y[None, :]


def _band_brightness(luma: np.ndarray, neck: np.ndarray, depth: np.ndarray) -> np.ndarray | None:
    """The neck's median brightness in each of _SHADOW_BANDS (chip units below the jaw) over its median in
    _FAR_NECK; None where too little neck shows further down to compare with."""
    far = neck & (depth >= _FAR_NECK[0]) & (depth < _FAR_NECK[1])
    if far.sum() < 30:
        return None
    reference = max(float(np.median(luma[far])), 1.0)
    bands = []
    for top, bottom in _SHADOW_BANDS:
        inside = neck & (depth >= top) & (depth < bottom)
        bands.append(float(np.median(luma[inside])) / reference if inside.sum() >= 10 else 1.0)
    return np.array(bands)


def _shadow_profile(luma: np.ndarray, neck: np.ndarray, depth: np.ndarray) -> np.ndarray:
    bands = _band_brightness(luma, neck, depth)
    return np.ones(len(_SHADOW_BANDS)) if bands is None else np.clip(bands, _DARKEST_SHADOW, 1.0)


def _shadow_factor(luma: np.ndarray, neck: np.ndarray, depth: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """(h, w) what the smoothed neck's brightness is multiplied by so that under the jaw it has the photo's shadow."""
    now = _band_brightness(luma, neck, depth)
    if now is None:
        return np.ones(luma.shape, np.float32)
    factors = np.clip(shadow / np.maximum(now, 1e-3), _DARKEST_SHADOW, 1.0)
    centres = [(top + bottom) / 2 for top, bottom in _SHADOW_BANDS]
    return np.interp(depth, [*centres, _FAR_NECK[0]], [*factors, 1.0]).astype(np.float32)
