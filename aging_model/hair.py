"""Hair that ages with the face: it greys going old, and grey hair takes a young colour going young.

The prototypes age the face's skin inside the face crop; hair lies mostly outside it (above the forehead, at the
temples, down the sides), so it is recoloured in the photo itself, around each face. No face-parsing model ships
offline, so the hair is found by colour: a model of the hair's colour seeded above the forehead and at the
temples, one of the skin seeded on the cheeks, one of the background seeded far out at the top corners, and a
spatial prior of where a head's hair can be. A seed region that looks like the face's skin (a bald head, a cap of
skin-coloured light) holds no hair, and nothing is recoloured. Only what has the hair's fine strand texture at the
photo's own resolution is recoloured: an out-of-focus window beside the head can share grey hair's colour.

Greying keeps the hair's own light and shade: each pixel moves towards a grey-white scaled by its brightness over
the hair's mean (lit strands and crown stay lighter, shadows between waves stay darker), by a share that grows with
age; greying is measured as what turns grey between the face's own age and the target (Keogh & Walsh: most people
are half grey by their fifties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from aging_model.photo_regions import WorkRegion

# The region around a face where its hair can be, in units of the face crop's side (the chip framing, eyes at
# about 0.21 of the height and the mouth at 0.67): above the forehead to half a face higher, out to the temples
# and down the sides to below the chin for long hair.
_REGION = (-0.55, -0.75, 1.55, 1.2)  # left, top, right, bottom
_WORK_SIDE = 160  # px of the crop's side at which the hair mask is found (a smooth mask; cheap)
_HAIR_SEEDS = ((0.3, -0.32, 0.7, -0.06), (-0.12, -0.15, 0.06, 0.25), (0.94, -0.15, 1.12, 0.25))
_SKIN_SEEDS = ((0.22, 0.4, 0.36, 0.55), (0.64, 0.4, 0.78, 0.55), (0.4, 0.02, 0.6, 0.1))
_BACKGROUND_SEEDS = (
    (-0.55, -0.75, -0.35, -0.45),
    (1.35, -0.75, 1.55, -0.45),
    (-0.55, 0.0, -0.42, 0.35),
    (1.42, 0.0, 1.55, 0.35),
    (0.35, -0.75, 0.65, -0.66),
)
# Ages at which the share of grey hair reaches each value (population averages; individuals vary widely).
_GREY_BY_AGE = ((30.0, 0.0), (40.0, 0.08), (50.0, 0.3), (60.0, 0.55), (70.0, 0.75), (80.0, 0.9), (95.0, 0.97))
_WHITE = np.array([198.0, 196.0, 189.0], np.float32)  # grey-white hair at its mean brightness, slightly warm, RGB
_YOUNG_BROWN = np.array([62.0, 46.0, 36.0], np.float32)  # a dark brown, for grey hair made young
_PLAUSIBLE_EXTRA_GREY = 0.2  # greyness above the usual at the face's age beyond which grey hair is not darkened
# Recoloured hair keeps its own light and shade as a power of each pixel's brightness over the hair's mean: 1 keeps
# all of it (blonde hair's shadowed underside turned to dark grey streaks), 0 none (a flat white helmet).
_SHADING_KEPT = 0.45
_KNEE, _BRIGHTEST = 200.0, 242.0  # recoloured pixels brighter than the knee roll off towards the brightest
# Hair has strands: fine texture at the photo's own resolution (pooled over 2 px, Obama's short hair has 3-4 L units
# of it, the blurred window beside his head 0.1-0.4). The hair's typical texture is the upper quartile over its
# core (_TYPICAL_STRANDS: a blurred window can fill much of the core, and at its median the smooth, lit skin of
# Obama's temple passed for strands and turned white at 80). Below _STRANDS_LOW of it a pixel is not recoloured, from
# _STRANDS_HIGH it is in full; the texture is pooled over _STRANDS_REACH px, so a lone sharp edge (an ear against the
# window) does not count as strands.
_STRANDS_LOW, _STRANDS_HIGH = 0.3, 0.6
_TYPICAL_STRANDS = 75  # percentile
_STRANDS_REACH = 5.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_MIN_HAIR_SEED_SHARE = 0.3  # below: the seed region is mostly skin or background, no hair to recolour
_OUTLIER_DISTANCE = 4.0  # standard deviations from the hair's colour beyond which a pixel is something else
_FLAT_SPREAD = 1.5  # Lab L units of local spread at the work size below which an area is flat, not hair
_SEPARABLE_DISTANCE = 18.0  # Lab units between the hair's and the background's mean colours
_HOLE_AREA = 0.004  # of the work region: an enclosed gap in the hair up to this size is hair (shadows)
_CONNECTED_AT = 0.25  # probability above which hair counts as one area with the seeds (0.5 left lit ends out)
# Another face's head, as an ellipse's half-axes in units of its detector box's width and height.
_HEAD_WIDTH, _HEAD_HEIGHT = 0.8, 1.0


def grey_share(age: float) -> float:
    """The share of a head's hair that is grey at `age` (0..1)."""
    ages, shares = zip(*_GREY_BY_AGE)
    return float(np.interp(age, ages, shares))


@dataclass
class HairRecolour:
    """One face's hair in one photo: where it is (a soft mask over a box of the photo) and how grey it is."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo
    mask: np.ndarray  # (y1 - y0, x1 - x0, 2) float32 in [0, 1]: all the hair found; its core, close to the head
    own_grey: float  # how grey the hair is now, 0..1, as measured
    texture: np.ndarray | None = None  # (h, w, 1) the hair's light and shade (`_shading`), set by `find`
    strands: np.ndarray | None = None  # (h, w, 1) 1 where the photo has the hair's fine texture (`_strands`)
    # The recoloured hair for each of the two colours, made on first use: every age of the photo shares them.
    _goals: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def find(
        cls, photo: np.ndarray, matrix: np.ndarray, crop_size: int, others: Sequence[np.ndarray] = ()
    ) -> HairRecolour | None:
        """The hair around the face whose chip-framed crop of `crop_size` px is made by `matrix` (photo ->
        crop, 2x3); None where no hair is found (a bald head, hair the colour of the skin, a cut-off head).
        `others` are the boxes (x0, y0, x1, y1, photo pixels) of the photo's other faces: in a group, one
        face's search region reaches over its neighbours' faces, whose lips, teeth and collars can share its
        hair's colour; their heads are left to their own hair pass."""
        area = WorkRegion.around(matrix, crop_size, _WORK_SIDE, _REGION)
        work_box = area.origin
        region, inside = area.sample(photo)
        inside = inside * (1 - _heads_of(others, area.to_region, area.size))
        probability = _hair_probability(region, inside, work_box)
        if probability is None:
            return None
        hair, own_grey = probability
        found = _to_photo(hair, area, photo.shape, own_grey)
        if found is not None:
            # The hair's light and shade is the photo's own; measured once, it serves every age.
            found.texture = _shading(photo, found)
            found.strands = _strands(photo, found)
        return found

    def apply(self, image: np.ndarray, own_age: float, target_age: float) -> None:
        """Recolour the hair in `image` (the photo, or a composite of it) in place, for a face of `own_age`
        shown at `target_age`."""
        amount, colour = self._change(own_age, target_age)
        if amount <= 0.01:
            return
        x0, y0, x1, y1 = self.box
        pixels = image[y0:y1, x0:x1].astype(np.float32)
        goal = self._goals.get(colour.tobytes())
        if goal is None:
            goal = self._goals[colour.tobytes()] = _soft_ceiling(colour * self.texture).astype(np.float32)
        # Darkening grey hair is the riskier change (a light wall next to grey hair would darken into a halo): it
        # is made only over the core of the hair, hugging the head.
        weight = self.mask[..., 0:1] if colour is _WHITE else self.mask[..., 1:2] * _greyish(pixels)
        weight = weight * self.strands  # not an out-of-focus window or wall of the hair's colour beside the head
        weight = weight * amount
        image[y0:y1, x0:x1] = np.clip(pixels + weight * (goal - pixels), 0, 255).astype(np.uint8)

    def _change(self, own_age: float, target_age: float) -> tuple[float, np.ndarray]:
        """(share of the hair to recolour, towards which colour)."""
        own, target = max(self.own_grey, grey_share(own_age)), grey_share(target_age)
        if target > own:  # what is still pigmented greys
            return (target - own) / max(1.0 - own, 1e-3), _WHITE
        # Grey hair made young takes a young colour; but hair far greyer than is usual at the face's age is more
        # likely a grey wall or window caught by the seeds, and darkening it paints brown crescents beside the head.
        plausible = self.own_grey <= grey_share(own_age) + _PLAUSIBLE_EXTRA_GREY
        if self.own_grey > 0.25 and target < self.own_grey and plausible:
            return (self.own_grey - target) / self.own_grey, _YOUNG_BROWN
        return 0.0, _WHITE


def _shading(photo: np.ndarray, hair: HairRecolour) -> np.ndarray:
    """(h, w, 1) each pixel's brightness over the mean of the hair's core, to the power _SHADING_KEPT: the light
    and shade of the hair's own strands, waves and lit crown, which the new colour is multiplied by. Measured
    once on the photo, it serves every age. A ratio, not a difference from a local mean: a difference drew halos
    along every strand (embossed, a knitted cap) and a flat dark wall beside the hair turned as white as the hair."""
    x0, y0, x1, y1 = hair.box
    brightness = photo[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    core = hair.mask[..., 1]
    mean = float((brightness * core).sum() / max(float(core.sum()), 1e-3))
    return (np.clip(brightness / max(mean, 1.0), 0.0, 2.0) ** _SHADING_KEPT)[..., None]


def _strands(photo: np.ndarray, hair: HairRecolour) -> np.ndarray:
    """(h, w, 1) 1 where the photo shows fine texture like the hair's own strands, 0 where it is smooth: an
    out-of-focus window or wall beside the head shares grey hair's colour but not its strands."""
    x0, y0, x1, y1 = hair.box
    lightness = photo[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    fine = cv2.GaussianBlur(np.abs(lightness - cv2.GaussianBlur(lightness, (0, 0), 0.7)), (0, 0), _STRANDS_REACH)
    core = fine[hair.mask[..., 1] > 0.5]
    typical = max(float(np.percentile(core, _TYPICAL_STRANDS)) if core.size else 0.0, 1e-3)
    return np.clip((fine / typical - _STRANDS_LOW) / (_STRANDS_HIGH - _STRANDS_LOW), 0.0, 1.0)[..., None]


def _soft_ceiling(goal: np.ndarray) -> np.ndarray:
    """Brightness above _KNEE compressed smoothly below _BRIGHTEST: lit strands stay lighter than the rest without
    clipping to one flat white (and a lit window caught in the mask does not glare)."""
    room = _BRIGHTEST - _KNEE
    return np.where(goal > _KNEE, _KNEE + room * np.tanh((goal - _KNEE) / room), goal)


def _greyish(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1) 1 where a pixel is nearly colourless (grey or white hair), 0 where it is coloured (skin)."""
    spread = pixels.max(axis=2, keepdims=True) - pixels.min(axis=2, keepdims=True)
    return np.clip((40.0 - spread) / 20.0, 0.0, 1.0)


def _heads_of(boxes: Sequence[np.ndarray], to_region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8, 1 over the heads (face, hair and neck) of faces with detector `boxes` in the photo, as
    ellipses in the work region: half a face above and below the box, most of a face to each side."""
    heads = np.zeros((size[1], size[0]), np.uint8)
    scale = float(np.sqrt(abs(np.linalg.det(to_region[:, :2]))))
    angle = float(np.degrees(np.arctan2(to_region[1, 0], to_region[0, 0])))
    for x0, y0, x1, y1 in boxes:
        centre = to_region[:, :2] @ np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + to_region[:, 2]
        axes = (round(_HEAD_WIDTH * (x1 - x0) * scale), round(_HEAD_HEIGHT * (y1 - y0) * scale))
        cv2.ellipse(heads, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, 1, thickness=-1)
    return heads


def _pixels_in(image: np.ndarray, boxes, work_box, inside: np.ndarray) -> np.ndarray:
    """The pixels of `image` (the region) inside any of `boxes` (crop units) that lie inside the photo."""
    chosen = []
    for left, top, right, bottom in boxes:
        x0, x1 = (round(v * _WORK_SIDE - work_box[0]) for v in (left, right))
        y0, y1 = (round(v * _WORK_SIDE - work_box[1]) for v in (top, bottom))
        part, valid = image[max(y0, 0) : y1, max(x0, 0) : x1], inside[max(y0, 0) : y1, max(x0, 0) : x1]
        chosen.append(part[valid > 0])
    return np.concatenate(chosen) if chosen else np.zeros((0, 3), np.float32)


class _ColourModel:
    """A Gaussian in Lab, its covariance floored so a uniform seed still admits its own texture (lightness
    varies with light and strands far more than the chroma does, which tells grey hair from pale skin)."""

    def __init__(self, samples: np.ndarray, floor=(40.0, 6.0, 6.0)):
        self.mean = samples.mean(axis=0)
        covariance = np.cov(samples.T) + np.diag(floor)
        self.inverse = np.linalg.inv(covariance)
        self.log_norm = -0.5 * np.log(np.linalg.det(covariance))

    def log_likelihood(self, lab: np.ndarray) -> np.ndarray:
        # The quadratic form written out, in float32: einsum's three-operand loop took most of the hair's search.
        d0, d1, d2 = (lab[..., c] - np.float32(self.mean[c]) for c in range(3))
        a = self.inverse.astype(np.float32)
        form = a[0, 0] * d0 * d0 + a[1, 1] * d1 * d1 + a[2, 2] * d2 * d2
        form += 2 * (a[0, 1] * d0 * d1 + a[0, 2] * d0 * d2 + a[1, 2] * d1 * d2)
        return self.log_norm - 0.5 * form


def _hair_probability(region: np.ndarray, inside: np.ndarray, work_box) -> tuple[np.ndarray, float] | None:
    lab = cv2.cvtColor(region.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    skin_samples = _pixels_in(lab, _SKIN_SEEDS, work_box, inside)
    hair_samples = _pixels_in(lab, _HAIR_SEEDS, work_box, inside)
    if len(skin_samples) < 20 or len(hair_samples) < 40:
        return None
    skin = _ColourModel(skin_samples)
    background_samples = _pixels_in(lab, _BACKGROUND_SEEDS, work_box, inside)
    # Seeds that look like skin are not hair (a bald crown, a high forehead): the hair model is built from the rest.
    skin_distance = np.einsum("...i,ij,...j->...", hair_samples - skin.mean, skin.inverse, hair_samples - skin.mean)
    hair_samples = hair_samples[skin_distance > 9.0]
    if len(hair_samples) < _MIN_HAIR_SEED_SHARE * len(_pixels_in(lab, _HAIR_SEEDS, work_box, inside)):
        return None
    hair = _ColourModel(hair_samples)
    scores = [hair.log_likelihood(lab), skin.log_likelihood(lab)]
    reach = 1.05  # no background seen (the face fills the photo): only a tight band around the head
    if len(background_samples) >= 20:
        reach = 1.25
        # A background the colour of the hair (grey hair against a grey window) cannot be told apart: both then
        # share the probability, and only a tight band around the head is recoloured.
        background = _ColourModel(background_samples)
        scores.append(background.log_likelihood(lab))
        if np.linalg.norm(background.mean - hair.mean) < _SEPARABLE_DISTANCE:
            reach = 1.05
    scores = np.stack(scores)
    # A colour unlike all the models (a red curtain, a blue shirt) is not hair either: an outlier class whose
    # likelihood is the hair model's at _OUTLIER_DISTANCE standard deviations.
    outlier = hair.log_norm - 0.5 * _OUTLIER_DISTANCE**2
    scores = np.concatenate([scores, np.full((1, *scores.shape[1:]), outlier)])
    scores -= scores.max(axis=0)
    probability = np.exp(scores[0]) / np.exp(scores).sum(axis=0)
    probability *= _head_prior(region.shape[:2], work_box, reach) * (inside > 0)
    probability = cv2.GaussianBlur(probability.astype(np.float32), (0, 0), 1.0)
    probability = np.clip((probability - 0.3) / 0.4, 0.0, 1.0) * _connected_to_seeds(probability, work_box)
    probability *= _textured(lab[..., 0])
    probability = _holes_filled(probability, inside)
    core = probability * _head_prior(region.shape[:2], work_box, 1.02)
    probability = np.ascontiguousarray(np.stack([probability, core], axis=2).astype(np.float32))
    own_grey = _greyness(hair.mean)
    return probability, own_grey


def _connected_to_seeds(probability: np.ndarray, work_box) -> np.ndarray:
    """1 over the parts of the likely-hair area that touch the hair seeds, feathered; 0 over islands (a dark
    jacket, a shadow in the background) that merely share the hair's colour."""
    likely = (probability > _CONNECTED_AT).astype(np.uint8)
    _, labels = cv2.connectedComponents(likely, connectivity=8)
    seeds = np.zeros_like(likely)
    for left, top, right, bottom in _HAIR_SEEDS:
        x0, x1 = (max(round(v * _WORK_SIDE - work_box[0]), 0) for v in (left, right))
        y0, y1 = (max(round(v * _WORK_SIDE - work_box[1]), 0) for v in (top, bottom))
        seeds[y0:y1, x0:x1] = 1
    kept = np.isin(labels, np.unique(labels[(seeds > 0) & (likely > 0)])) & (likely > 0)
    grown = cv2.dilate(kept.astype(np.uint8), np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(grown.astype(np.float32), (0, 0), 1.5)


def _holes_filled(probability: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The hair's mask with its small enclosed holes filled: the darkest shadows between strands lie beyond the
    hair's colour model, and left out they stay brown spots in hair turned white."""
    outside_hair = ((probability < 0.9) & (inside > 0)).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(outside_hair, connectivity=4)
    height, width = probability.shape
    small = stats[:, cv2.CC_STAT_AREA] <= _HOLE_AREA * height * width
    touches_edge = (
        (stats[:, cv2.CC_STAT_LEFT] == 0)
        | (stats[:, cv2.CC_STAT_TOP] == 0)
        | (stats[:, cv2.CC_STAT_LEFT] + stats[:, cv2.CC_STAT_WIDTH] >= width)
        | (stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] >= height)
    )
    holes = small & ~touches_edge
    holes[0] = False  # the hair itself
    if not holes[1:].any():
        return probability
    # A hole is hair as the hair around it is; grown over its rim and feathered there, so its edge does not show.
    filled = cv2.dilate(holes[labels].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    around = cv2.dilate(probability, np.ones((7, 7), np.uint8))
    return np.maximum(probability, cv2.GaussianBlur(filled * around, (0, 0), 1.0) * (inside > 0))


def _textured(lightness: np.ndarray) -> np.ndarray:
    """1 where the lightness has hair's strand texture, fading to 0 over flat areas: a flat dark wall or a
    shadowed corner beside dark hair shares its colour, not its strands, and would turn into a white blotch."""
    mean = cv2.GaussianBlur(lightness, (0, 0), 2.0)
    spread = np.sqrt(np.maximum(cv2.GaussianBlur(lightness * lightness, (0, 0), 2.0) - mean * mean, 0.0))
    smooth = cv2.GaussianBlur(spread, (0, 0), 4.0)
    return np.clip((smooth - _FLAT_SPREAD) / _FLAT_SPREAD, 0.0, 1.0)


def _head_prior(shape, work_box, reach: float) -> np.ndarray:
    """How likely hair can be at each pixel, from where it lies: 1 in a band hugging the top and sides of the
    head, fading out further away (hair the colour of the background beyond it is left alone); 0 over the inner
    face and under the chin (collars, jackets). `reach` is how far out, in head outlines, hair is looked for."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x = (xs + work_box[0]) / _WORK_SIDE - 0.5
    y = (ys + work_box[1]) / _WORK_SIDE
    head = np.sqrt((x / 0.72) ** 2 + ((y - 0.4) / 0.92) ** 2)  # 1 on the outline of a full head of short hair
    near_head = np.clip((reach - head) / (reach - 0.95), 0.0, 1.0)
    # Long hair falls beside the face and jaw, not under the chin; looked for only where the background differs.
    beside_face = (np.abs(x) > 0.4) & (np.abs(x) < 0.8) & (y > 0.3) & (y < 1.1) & (reach > 1.1)
    inner_face = (x / 0.43) ** 2 + ((y - 0.52) / 0.56) ** 2 < 1.0
    below_chin = (np.abs(x) < 0.4) & (y > 0.75)
    prior = np.maximum(near_head, beside_face) * ~(inner_face | below_chin)
    return cv2.GaussianBlur(prior.astype(np.float32), (0, 0), 0.03 * _WORK_SIDE)


def _greyness(lab_mean: np.ndarray) -> float:
    """How grey hair of this mean Lab colour is: light and colourless is grey or white; dark or coloured is not."""
    lightness, chroma = float(lab_mean[0]), float(np.hypot(lab_mean[1], lab_mean[2]))
    return float(np.clip((lightness - 45.0) / 25.0, 0.0, 1.0) * np.clip((14.0 - chroma) / 8.0, 0.0, 1.0))


def _to_photo(mask: np.ndarray, area: WorkRegion, photo_shape, own_grey: float) -> HairRecolour | None:
    """The work-size mask carried back onto the photo's pixels, over its bounding box only."""
    placed = area.to_photo(mask, photo_shape)
    if placed is None:
        return None
    box, photo_mask = placed
    return HairRecolour(box, photo_mask, own_grey)
