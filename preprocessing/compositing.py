"""Paste-back: put aged face crops back into the user's own photo.

Each crop is warped with the inverse of its alignment transform, only inside the region of the photo it
covers (cheap even at 2048 px), and blended through a feathered elliptical mask over the inner face, so the
hair, background and clothes stay the photo's own. A crop with a margin of the photo around its chip framing
(the prototype renderer's) is pasted whole below the eyes, out into its margin: a face whose shape changed
(a child's chin risen, a jaw narrowed) then shows whole, where the ellipse's feathered edge showed the
photo's own jaw and collar through it, half blended (a second jawline, a pale wedge beside the chin).
`seamless` uses OpenCV's Poisson blending instead, which matches the crop's colours to the surrounding skin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

# The blended region in chip-relative units, derived from the template: centred between eyes and mouth,
# wide enough to cover the cheeks, tall enough for forehead and chin.
_MASK_CENTRE = (0.475, 0.47)
_MASK_AXES = (0.40, 0.44)
# With a margin: the part pasted whole, in chip units, from below the eyes down and out beyond the jaw (where the
# prototype renderer's warp is pinned, see aging_model.prototypes.proportions.JAW_PIN_DISTANCE), feathered inside
# the margin, where the warp has all but faded.
_LOWER_FACE_TOP = 0.4
_LOWER_FACE_REACH = 0.08  # beyond the chip's bottom (a quarter of it at the sides)
_LOWER_FACE_FEATHER = 0.025


@dataclass(frozen=True)
class FacePatch:
    """An aged crop and the alignment matrix (photo -> crop) of the face it replaces."""

    crop: np.ndarray
    matrix: np.ndarray
    margin: int = 0  # pixels of the photo around the chip framing on every side, pasted back too (see paste_mask)


CHANGE_SMOOTHING_PX = 1.0  # generator pixels; see transfer_aging
# The share of the generator's own rendering in an aged face (see transfer_aging): chosen on held-out faces
# as the most age movement that keeps identity (docs/model-card.md, "As served").
RENDERING_WEIGHT = 0.5


def face_mask(size: int, feather: float = 0.08) -> np.ndarray:
    """A float mask (size, size) in [0, 1]: 1 over the inner face, fading out over `feather` of the size."""
    mask = np.zeros((size, size), np.float32)
    centre = (round(_MASK_CENTRE[0] * size), round(_MASK_CENTRE[1] * size))
    axes = (round(_MASK_AXES[0] * size), round(_MASK_AXES[1] * size))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = max(0.5, feather * size)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask = np.clip(mask * 1.3, 0, 1)  # keep the centre fully opaque after the blur
    # The blur spills up to the crop's own edge (the top of the forehead): fade it to 0 there, or a strong change
    # (a child's lighter forehead) would end in a straight seam along the crop's border.
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / max(1.0, 0.5 * sigma), 0, 1).astype(np.float32)
    return mask * np.minimum(ramp[:, None], ramp[None, :])


def paste_mask(size: int, margin: int = 0) -> np.ndarray:
    """A float mask (size, size) in [0, 1] for a crop of `size` px whose chip framing lies `margin` px inside
    its border: the face's ellipse (`face_mask`) and, with a margin, the lower face pasted whole down and out
    into the margin, fading to 0 before the crop's border."""
    inner = size - 2 * margin
    if margin <= 0:
        return face_mask(size)
    mask = np.zeros((size, size), np.float32)
    mask[margin : margin + inner, margin : margin + inner] = face_mask(inner)
    feather = _LOWER_FACE_FEATHER * inner
    reach = max(0.0, min(_LOWER_FACE_REACH * inner, margin - 3.0 * feather))  # the fade ends inside the margin
    lower = np.zeros((size, size), np.float32)
    corner = (round(margin - reach / 4), round(margin + _LOWER_FACE_TOP * inner))
    cv2.rectangle(lower, corner, (round(margin + inner + reach / 4), round(margin + inner + reach)), 1.0, -1)
    return np.maximum(mask, cv2.GaussianBlur(lower, (0, 0), max(0.5, feather)))


def as_pasted(composite: np.ndarray, patch: FacePatch) -> np.ndarray:
    """The crop as the composite shows it: the patch's own pixels over the inner face (sharp, not resampled) and,
    around them, the composite seen through the same alignment (whatever was changed there after the paste, such
    as hair, and the photo itself where the patch was not pasted)."""
    size = patch.crop.shape[0]
    around = cv2.warpAffine(
        composite, patch.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    mask = _crop_mask(size, patch.margin)
    return np.clip(around + mask * (patch.crop.astype(np.float32) - around) + 0.5, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _crop_mask(size: int, margin: int = 0) -> np.ndarray:
    mask = paste_mask(size, margin)[..., None]
    mask.setflags(write=False)
    return mask


def paste_faces(photo: np.ndarray, patches: list[FacePatch], blend: str = "feather") -> np.ndarray:
    """A copy of `photo` with every patch warped back and blended in. Feathered, each patch adds its change of
    the photo: where two faces' crops overlap (a group), the unchanged part of one leaves the other's new face."""
    result = photo.copy()
    for patch in patches:
        if blend == "seamless":
            result = _paste_seamless(result, patch)
        else:
            _paste_feathered(result, photo, patch)
    return result


def _covered_region(matrix: np.ndarray, crop_size: int, photo_shape) -> tuple[int, int, int, int] | None:
    """The photo's pixel box (x0, y0, x1, y1) that the crop lands on, clipped to the photo."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]], np.float64)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = photo_shape[:2]
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _warp_into_region(patch: FacePatch, region, image: np.ndarray, interpolation) -> np.ndarray:
    x0, y0, x1, y1 = region
    # matrix maps photo -> crop; shift it so the region's corner is the origin, then warp crop -> region.
    shifted = patch.matrix.copy()
    shifted[:, 2] += patch.matrix[:, :2] @ np.array([x0, y0], np.float64)
    inverse = cv2.invertAffineTransform(shifted)
    return cv2.warpAffine(
        image, inverse, (x1 - x0, y1 - y0), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _paste_feathered(result: np.ndarray, photo: np.ndarray, patch: FacePatch) -> None:
    region = _covered_region(patch.matrix, patch.crop.shape[0], result.shape)
    if region is None:
        return
    x0, y0, x1, y1 = region
    warped = _warp_into_region(patch, region, patch.crop, cv2.INTER_CUBIC).astype(np.float32)
    mask = _region_mask(patch.matrix.tobytes(), patch.crop.shape[0], region, patch.margin)
    change = mask * (warped - photo[y0:y1, x0:x1].astype(np.float32))
    result[y0:y1, x0:x1] = np.clip(result[y0:y1, x0:x1].astype(np.float32) + change, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def _region_mask(matrix_bytes: bytes, crop_size: int, region: tuple[int, int, int, int], margin: int = 0) -> np.ndarray:
    """The feathered paste mask warped into the photo's region; the same for every age of one face, so it is
    made once per face (the matrix arrives as bytes to be hashable)."""
    matrix = np.frombuffer(matrix_bytes, np.float64).reshape(2, 3)
    mask = paste_mask(crop_size, margin)
    mask = _warp_into_region(FacePatch(None, matrix), region, mask, cv2.INTER_LINEAR)[..., None]
    mask.setflags(write=False)
    return mask


def _paste_seamless(result: np.ndarray, patch: FacePatch) -> np.ndarray:
    region = _covered_region(patch.matrix, patch.crop.shape[0], result.shape)
    if region is None:
        return result
    x0, y0, x1, y1 = region
    warped = _warp_into_region(patch, region, patch.crop, cv2.INTER_CUBIC)
    size = patch.crop.shape[0]
    inner = size - 2 * patch.margin
    whole = np.zeros((size, size), np.float32)  # Poisson blending matches the edge's colours: no feather is needed
    whole[patch.margin : patch.margin + inner, patch.margin : patch.margin + inner] = face_mask(inner, feather=0.0)
    mask = _warp_into_region(patch, region, (whole > 0.5).astype(np.uint8) * 255, cv2.INTER_NEAREST)
    if mask.sum() == 0 or (x1 - x0) < 8 or (y1 - y0) < 8:
        return result
    # seamlessClone needs the mask to stay inside the destination; it does when the region is inside the photo.
    mask[[0, -1], :] = 0
    mask[:, [0, -1]] = 0
    source = result.copy()
    source[y0:y1, x0:x1] = np.where(mask[..., None] > 0, warped, result[y0:y1, x0:x1])
    full_mask = np.zeros(result.shape[:2], np.uint8)
    full_mask[y0:y1, x0:x1] = mask
    ys, xs = np.nonzero(full_mask)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    return cv2.seamlessClone(source, result, full_mask, centre, cv2.NORMAL_CLONE)


def transfer_aging(
    detail: np.ndarray,
    aged: np.ndarray,
    reconstructed: np.ndarray,
    rendering_weight: float = RENDERING_WEIGHT,
    smoothing_px: float = CHANGE_SMOOTHING_PX,
) -> np.ndarray:
    """The face at the target age: the photo's own face with the model's change, blended with the model's own
    rendering.

    The generator works at a low resolution and loses the photo's fine detail even when it changes nothing.
    Its change is `aged - reconstructed` (the same latent at the target age and at the face's own age);
    upsampled and added to `detail` (the same alignment at a higher resolution) it ages the face while the
    skin texture, eyes and identity of the photo stay. That alone ages too timidly: much of what reads as age
    (skin, wrinkles) is detail the photo keeps. So `rendering_weight` of the result is the generator's own
    rendering at the target age: 0 keeps the photo's detail entirely, 1 shows the rendering alone.

    The change is first smoothed by a Gaussian of `smoothing_px` generator pixels: a small generator's
    renderings at two ages also differ by pixel-level noise (checkerboard from its transposed convolutions),
    which would otherwise be painted onto the photo; what aging changes is broader than that.
    """
    size = detail.shape[0]
    change = aged.astype(np.float32) - reconstructed.astype(np.float32)
    if smoothing_px > 0:
        change = cv2.GaussianBlur(change, (0, 0), smoothing_px)
    changed = detail.astype(np.float32) + cv2.resize(change, (size, size), interpolation=cv2.INTER_CUBIC)
    if rendering_weight > 0:
        rendering = cv2.resize(aged.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
        changed = (1 - rendering_weight) * changed + rendering_weight * rendering
    return np.clip(changed, 0, 255).astype(np.uint8)
