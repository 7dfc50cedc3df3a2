"""Aging a face by the prototypes' difference, on the photo's own pixels (Burt & Perrett 1995; Tiddeman, Burt
& Perrett 2001; the idea behind Kemelmacher-Shlizerman et al., CVPR 2014).

A face of age a is aged to age b in three parts, each the change between the prototypes of a and of b:
- colour and shading: the face's coarse band times the ratio of the prototypes' coarse bands;
- skin detail: the face's own medium and fine detail scaled by the ratio of the prototypes' detail energies
  (a child's skin has less of both; an old face more medium detail), plus the prototypes' own medium-band
  difference, which carries the folds and bags that age draws in the same place on every face;
- shape: the face's landmarks moved by the difference of the prototypes' mean shapes, and the face bent to
  follow with a thin-plate spline.
All of it is computed in the prototypes' frame at their resolution, carried onto the face by one warp, and
applied at the face's own resolution, so nothing is rendered at a lower resolution than the photo has.
Strengths above 1 exaggerate the change: averages are milder than any one face (Burt & Perrett found
caricatured prototypes read truer to age).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from aging_model.prototypes.age_prototypes import (
    DEFAULT_PROTOTYPES_PATH,
    ENERGY_SIZE,
    FINE_SIGMA,
    TEXTURE_SIZE,
    AgePrototypes,
    detail_bands,
)
from aging_model.prototypes.bands import PrototypeBands
from aging_model.prototypes.child_features import (
    child_regions,
    features_band,
    features_pull,
    skin_coloured_lids,
    thin_lines,
)
from aging_model.prototypes.crop_box import changed_box, enlarged_box, unpadded_size
from aging_model.prototypes.eyes import mature_eyes
from aging_model.prototypes.face_regions import (
    brows_mask,
    eyes_mask,
    is_black_and_white,
    lips_mask,
    lower_face_mask,
    skin_around,
    skin_likelihood,
    skin_mask,
)
from aging_model.prototypes.facial_hair import FacialHair
from aging_model.prototypes.proportions import (
    CHILD_AGE,
    eye_maturity,
    feature_shift,
    head_growth,
    jaw_pins,
    lower_face_floor,
    lowered_lids,
)
from aging_model.prototypes.pulls import younger_pull
from aging_model.prototypes.reference_maps import remap, rescaled_map
from preprocessing.warping import border_anchors, sampling_map, warp_points

_ENERGY_FLOOR = 1.0  # grey levels; keeps the ratio of two nearly flat regions near 1
_COARSE_FLOOR = 16.0
# Faces fill their crop to its edges; the frame that holds the map into the prototypes' frame lies this far
# (a share of the side) outside, so a cheek near the edge does not fold the map. The shape warp itself is
# pinned at the crop's edge: pinned further out, the crop's edge would move and show pixels from beyond it.
_MAP_MARGIN = 0.25
# The share of the face crop's side added around it for aging (see PrototypeAger.age): a child's chin rises
# by up to about a tenth of the side at the default strength.
AGING_PADDING = 0.15
# Of the prototypes' colour change, the share applied to hue and saturation (the rest is brightness only):
# the averages' hue differences between ages are small and partly noise, and full-strength ones read as
# make-up or ghost-white skin.
_CHROMA_SHARE = 0.5
_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)
# Going to a child's age, over the eyes and their lids the medium detail is pulled this share of the skin's pull
# towards the child prototype's: on 24 held-out adults aimed at 3 / 8 / 13, 0.5 outright moved the readings by
# 0.7 / 0.5 / 0.4 years younger (estimator) with nothing seen amiss; 0.9 undid it (a blank, staring eye).
_EYES_PULL = 0.8
_KEEP_LIGHTNESS = 1.0
_OWN_LOWER_SKIN = 1.0
_LOWER_SKIN_SIGMA = 0.06  # of the work size
_MAX_GAIN = 2.5  # of the detail energies' ratio
_FINE_PULL = 0.5  # share of the finest detail (pores, fine lines) the pull takes away with it
_SHAPE_PULL = 0.4  # of the skin's pull times the shape's strength, for the face's outline
_LOWER_FACE_FINE_GAIN = 0.2
_NATURAL_LIPS = np.array([1.02, 0.82, 0.84], np.float32)  # of the skin's own colour (UTKFace children's lips)
_LIPS_PULL = 0.6  # of the shaving zone's pull


@dataclass(frozen=True)
class AgingStrength:
    """How much of each part of the prototypes' change is applied (1 = the change between the averages)."""

    shape: float = 1.0
    colour: float = 1.0
    fine: float = 1.0  # exponent on the ratio of fine-detail energies (pores, stubble, fine lines)
    medium: float = 1.0  # exponent on the ratio of medium-detail energies (wrinkles, folds)
    folds: float = 1.0  # weight of the prototypes' medium-band difference
    pull: float = 1.0  # share of the pull towards the target's own prototype (see pulls.YOUNGER_PULL)


# Chosen on held-out UTKFace faces (docs/model-card.md, "Strengths"; scripts/prototype_strength_sweep.py): at
# face value the averages move faces only about two thirds of the way to the target age, as Burt & Perrett
# found; forwards, the exaggerated change reads at the target age with wrinkles that still look like skin;
# backwards, more than a little exaggeration turns children's faces into dolls. The backwards shape and folds were
# raised (1.5 -> 2.0, 1.0 -> 3.0) after the shape's strength was found to be what the age readers answer to most
# (scripts/judge_sets.py, 24 held-out adults: at 3 they read 21.6 at no shape change, 16.3 at 0.8, 12.1 at 1.5,
# 10.7 at 2.0 and no younger beyond; the folds at 3.0 another half year); the rounder, shorter child's lower face
# looks right on the sheets, and old faces aimed at 20 / 40 read nearer their targets too.
OLDER_STRENGTH = AgingStrength(shape=2.0, colour=1.5, fine=1.2, medium=3.5, folds=5.0)
# A child aged forwards needs more of the medium band and the folds than an adult does (an adult's nose, brow ridge
# and the folds beside the mouth are drawn there; a child has none of them to scale up): on 24 held-out children
# of 1-7 (scripts/judge_sets.py --sets children --faces 48), aimed at 25 / 45 / 75 they read 28.3 / 51.6 / 70.7
# (estimator) and 23.6 / 33.3 / 48.7 (judge) against 21.7 / 36.0 / 64.1 and 19.8 / 29.5 / 39.9 with the adults'
# strengths; real faces of those ages read about 28.6 / 42.3 / 68.5 and 28.4 / 41.3 / 67.3. The shape is taken at face
# value, not exaggerated: with the face's growth against its skull (proportions.head_growth) it already reaches an
# adult's proportions. Measured on the landmarks of 32 held-out children aimed at 25 / 45, per eyes' distance: nose
# 0.78 / 0.78 long at 1.0 and 0.92 / 0.92 at 2.0, where real faces of 20-30 and 40-50 have 0.77 / 0.77; the inner
# brows 0.30 / 0.30 above the eyes at 1.0 and 0.26 / 0.27 at 2.0 (real 0.29 / 0.30: a frown). At 2.0 the readings
# were 28.0 / 48.4 / 68.7 and 22.3 / 32.2 / 44.6, at 1.0 22.9 / 41.3 / 68.1 and 18.7 / 27.3 / 40.1.
GROWING_STRENGTH = AgingStrength(shape=1.0, colour=1.5, fine=1.2, medium=5.0, folds=8.0)
# Backwards the medium band's ratio (wrinkles and folds fade) was raised 2.5 -> 5.0, with no gain over the eyes (see
# PrototypeAger.age): 64 held-out faces of 65-95 aimed at 20 / 40 / 60 read 34.4 / 44.4 / 62.5 -> 33.5 / 42.9 / 61.2
# (estimator) and 31.2 / 43.1 / 59.2 -> 30.6 / 41.8 / 57.9 (judge), with smoother skin and nothing seen amiss on the
# sheets; adults aimed at 3 / 8 / 13 read 0.1-0.4 years younger to the estimator, no differently to the judge.
YOUNGER_STRENGTH = AgingStrength(shape=2.0, colour=1.0, fine=2.0, medium=5.0, folds=3.0)


class PrototypeAger:
    """Ages aligned faces with their 68 landmarks; loaded once, then cheap per face and age.

    `older` and `younger` are the strengths applied when a face is aged forwards and backwards, `growing` when a
    child's is aged forwards: each needs different amounts (see the model card's sweep and the constants)."""

    def __init__(
        self,
        prototypes: AgePrototypes,
        older: AgingStrength | None = None,
        younger: AgingStrength | None = None,
        growing: AgingStrength | None = None,
    ):
        self.prototypes = prototypes
        self.older = older or OLDER_STRENGTH
        self.younger = younger or YOUNGER_STRENGTH
        self.growing = growing or GROWING_STRENGTH
        self._skin = skin_mask(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._lower_face = lower_face_mask(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._lips = lips_mask(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._brows = brows_mask(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._eyes = eyes_mask(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._child_regions = child_regions(prototypes.reference_shape * TEXTURE_SIZE, TEXTURE_SIZE)
        self._bands = PrototypeBands.of(prototypes, self._skin)
        small_skin = cv2.resize(self._skin, (ENERGY_SIZE, ENERGY_SIZE), interpolation=cv2.INTER_AREA)
        self._skin_weights = (small_skin / small_skin.sum())[..., None].astype(np.float32)
        self._skin_weights_full = (self._skin / self._skin.sum())[..., None].astype(np.float32)

    @classmethod
    def load(cls, path: Path = DEFAULT_PROTOTYPES_PATH) -> PrototypeAger:
        """The ager with the shipped prototypes (or those at `path`) and the default strengths."""
        return cls(AgePrototypes.load(path))

    def age(
        self,
        crop: np.ndarray,
        landmarks: np.ndarray,
        own_age: float,
        female: float,
        target_ages,
        padding: float = 0.0,
        keep_margin: bool = False,
        moved_landmarks: list | None = None,
    ) -> np.ndarray:
        """(n_ages, D, D, 3) uint8: the chip-framed face `crop` with `landmarks` (68, 2) in its pixels, now
        `own_age` years old and `female` (0..1) female, at each of `target_ages`.

        With `padding`, `crop` is the D x D chip framing plus that share of D of the photo on every side
        (`align_face(..., padding=)`); the change of shape then pulls in the photo's own neck and hair from
        the margin where a child's chin rises or an old jaw drops, and the margin is cut off the results
        (kept with `keep_margin`: the crops are then as large as `crop`, to be pasted back with the margin). Where
        each age's face moved its 68 landmarks to (in `crop`'s pixels) is appended to `moved_landmarks`.

        Everything but the fine band is smooth at the prototypes' resolution, so colour, medium detail and
        folds are changed on a copy of at most TEXTURE_SIZE px and only their change is enlarged; the fine
        band (pores, stubble) is scaled at the crop's own resolution.
        """
        size = crop.shape[0]
        inner = unpadded_size(size, padding)
        pad = (size - inner) // 2
        work = min(size, round(TEXTURE_SIZE * size / inner))
        face = crop.astype(np.float32)
        fine = face - cv2.GaussianBlur(face, (0, 0), FINE_SIGMA * inner / TEXTURE_SIZE)
        fine_luminance = np.ascontiguousarray(fine @ _LUMINANCE)
        small = face if work == size else cv2.resize(face, (work, work), interpolation=cv2.INTER_AREA)
        coarse, medium, _ = detail_bands(small, work * inner / size / TEXTURE_SIZE)
        medium_luminance = (medium @ _LUMINANCE)[..., None]
        to_reference = self._map_to_reference(landmarks * (work / size), work, pad * work / size, inner * work / size)
        to_smooth = rescaled_map(to_reference, ENERGY_SIZE / TEXTURE_SIZE)
        skin_region = remap(self._skin[..., None], to_reference, outside=0.0)
        likely_skin = skin_likelihood(small, landmarks * (work / size))
        skin = skin_region * likely_skin
        lower_face = remap(self._lower_face, to_reference, outside=0.0)
        shaving_zone, under_jaw = lower_face[..., 0:1], lower_face[..., 1:2]
        lips = remap(self._lips[..., None], to_reference, outside=0.0)
        brows = remap(self._brows[..., None], to_reference, outside=0.0)
        eyes = remap(self._eyes[..., None], to_reference, outside=0.0)
        # The eyes and the mouth keep their own band: the child prototype's there read 0.2-0.4 years younger at 3 but
        # blurred them at full size (an average eye; teeth faded to a ghost). So do thin, dark or bright lines
        # (glasses' frames), at 0.1-0.4 years.
        features_region = lids = np.zeros_like(eyes)
        if any(t < own_age and features_pull(1.0, float(t)) > 0 for t in target_ages):
            lines = thin_lines(small, work * inner / size / TEXTURE_SIZE)
            face_region, mouth, lids = np.split(remap(self._child_regions, to_reference, outside=0.0), 3, axis=2)
            features_region = face_region * (1.0 - np.maximum(np.maximum(eyes, mouth), lines))
            lids = lids * (1.0 - lines)  # glasses' frames keep their colour
        own_tone = _mean_colour(coarse, skin).astype(np.float32)
        own_skin = coarse[skin[..., 0] > 0.5]
        own_brightest = np.percentile(own_skin, 98, axis=0).astype(np.float32) if len(own_skin) else np.float32(255)
        own_lower_skin = skin_around(coarse, likely_skin * (1.0 - shaving_zone), _LOWER_SKIN_SIGMA * work, 0.02)
        # Only the skin (and, going young, the shaving zone) changes colour and detail: the arithmetic at full
        # resolution stays inside its box (a change weighted under 2 % is invisible).
        changing = np.maximum(np.maximum(skin, under_jaw), np.maximum(np.maximum(lips, brows), features_region))
        top, bottom, left, right = changed_box(changing[..., 0] > 0.02, size / work, size)
        face_box = np.ascontiguousarray(face[top:bottom, left:right])
        fine_box = np.ascontiguousarray(fine_luminance[top:bottom, left:right])
        box_size = (right - left, bottom - top)
        own = self._blend(own_age, female)
        own_shape = self._shape(own_age, female)
        keeps_grey = is_black_and_white(small)  # a black-and-white photo stays black and white

        beard = 1.0 - float(np.clip(female, 0.0, 1.0))
        facial_hair = FacialHair(small, (shaving_zone, under_jaw, brows), own_tone, own_age, beard)

        pins = jaw_pins(landmarks, inner)  # held still going young (see proportions.JAW_PIN_DISTANCE)

        def at(target: float) -> np.ndarray:
            """The face at one target age: its skin changed inside the box, then its shape."""
            strength = self.older if target >= own_age else self.younger
            if target >= own_age and own_age < CHILD_AGE:
                strength = self.growing
            goal = self._blend(float(target), female)
            smooth, fold_change = self._change(own, goal, strength)
            smooth = remap(smooth, to_smooth)
            ratio, gain_fine, gain_medium = smooth[..., 0:3], smooth[..., 3:4], smooth[..., 4:5]
            if target < own_age:
                # A child's average eye has more contrast than an adult's (larger irises, lashes), and the ratio
                # at YOUNGER_STRENGTH's medium exponent would darken an adult's eye shadow and liner with it.
                gain_medium = gain_medium - eyes * np.maximum(gain_medium - 1.0, 0.0)
            folds = remap(fold_change, to_reference)
            if strength is self.growing:
                # The child average's own features (wide dark nostrils, deep lid creases) are dark where the adult's
                # are not, so the exaggerated difference lights them: where a child's nostrils sit a little
                # differently it drew white crescents. The folds lighten no further than the adult average's own
                # exaggerated detail (on 24 held-out children, the nostrils' bright ridges at 45 gained up to 57
                # levels over the child's own, 29 with the cap; readings 0.5-3.7 years younger).
                ceiling = strength.folds * remap(goal[1], to_reference)
                folds = np.minimum(folds, np.maximum(ceiling - medium_luminance * gain_medium, 0.0))
            # Detail is changed in brightness only: amplified colour detail reads as dirt and red speckles.
            aged_coarse = coarse * ratio
            if target > own_age:
                # Aged forwards, no skin is lit beyond the face's own brightest: the averages' light differs (an
                # adult's brow ridge and nose catch it), and exaggerated it lit a child's forehead and nose in a
                # glowing band (the astronaut's skin, aged from 3 to 25, reached 246 against her own 222).
                aged_coarse = np.minimum(aged_coarse, np.maximum(coarse, own_brightest))
            aged_medium = medium_luminance * (gain_medium - 1) + folds
            pull, lower_pull = (strength.pull * p for p in younger_pull(own_age, float(target)))
            lips_pull = lower_pull * _LIPS_PULL
            # Beards are men's: on a woman's face the zone keeps the skin's pull (a hand or a glass held at the
            # mouth is not smeared into skin).
            lower_pull = max(pull, lower_pull * beard) if lower_pull > 0 else 0.0
            colour_weight = detail_weight = skin
            if pull > 0:
                prototype_skin = remap(goal[0], to_smooth) * (own_tone / _mean_colour(goal[0], self._skin_weights))
                prototype_medium = remap(goal[1], to_reference)
                colour_pull = detail_pull = pull
                gain_fine = gain_fine * (1.0 - _FINE_PULL * pull)
                if lower_pull > 0:
                    # Going young, the shaving zone is all skin, whatever it holds now; under the jaw line only its
                    # detail (stubble) goes: the prototypes' colour there is neck and studio backdrop, not skin.
                    colour_pull = pull + (lower_pull - pull) * shaving_zone
                    detail_pull = pull + (lower_pull - pull) * under_jaw
                    colour_weight = np.maximum(skin, shaving_zone * beard)
                    # Under the jaw, a man's stubble and anyone's old neck folds go (a second jawline at 5 otherwise).
                    detail_weight = np.maximum(skin, under_jaw)
                    gain_fine = gain_fine + (_LOWER_FACE_FINE_GAIN - gain_fine) * under_jaw
                if lips_pull > 0:
                    # An adult's strong brows are an adult's: a child's are fainter and softer (the skin's pull
                    # reaches them too, though they do not look like skin).
                    colour_weight = np.maximum(colour_weight, brows)
                    detail_weight = np.maximum(detail_weight, brows)
                    # So are an adult's eyes: lids, lashes and eyeliner take the child prototype's detail in part.
                    detail_pull = detail_pull * (1 - eyes) + min(1.0, _EYES_PULL * pull) * eyes
                    detail_weight = np.maximum(detail_weight, eyes)
                if lower_pull > 0 and _OWN_LOWER_SKIN > 0:
                    # The shaving zone takes the face's own skin around it (cheeks above, neck below), not the child
                    # prototype's lit chin: in its tone the zone ended in a pale band against a shadowed neck.
                    own_lower = own_lower_skin * ratio
                    prototype_skin = prototype_skin + _OWN_LOWER_SKIN * shaving_zone * (own_lower - prototype_skin)
                aged_coarse = aged_coarse + colour_pull * (prototype_skin - aged_coarse)
                aged_medium = aged_medium + detail_pull * (prototype_medium - medium_luminance - aged_medium)
            change = colour_weight * (aged_coarse - coarse) + detail_weight * aged_medium
            if target > own_age and _KEEP_LIGHTNESS > 0:
                # Wrinkles and folds are dark lines and light ridges, not a darker face: what they take from the
                # skin's mean lightness is given back, so the cheeks stay continuous with the unchanged neck.
                shade = float((change @ _LUMINANCE * skin[..., 0]).sum() / max(float(skin.sum()), 1e-6))
                change = change - _KEEP_LIGHTNESS * shade * skin
            if lips_pull > 0:
                # A child wears no lipstick: the lips take a natural colour, the face's own skin a little redder.
                natural_lips = own_tone * _NATURAL_LIPS
                change = change + lips * lips_pull * (natural_lips - coarse)
            features = features_pull(pull, float(target))
            if features > 0:
                # A child's brows, lids, nose and cheeks (see child_features), in the face's own tone.
                tone = own_tone / _mean_colour(goal[0], self._skin_weights)
                child_band = remap(self._features(float(target), female), to_reference) * tone
                now_band = features_band(small + change, work * inner / size / TEXTURE_SIZE)
                change = change + features * features_region * (child_band - now_band)
                # A child wears no eye shadow: the lids take the skin's own colour at their own brightness.
                change = change + features * skin_coloured_lids(small + change, lids, own_tone)
            if lower_pull == 0:  # an adult's target: the beard and brows grey or darken (a child's have none)
                hair = facial_hair.change(float(target))
                change = change if hair is None else change + hair
            if keeps_grey:
                change = np.repeat(change @ _LUMINANCE[:, None], 3, axis=2)
            weight = detail_weight
            smooth_change = change.astype(np.float32)
            fine_gain = (weight * (gain_fine - 1)).astype(np.float32)
            # Both are smooth: enlarged from the work size to the crop's own, only over the skin's box.
            smooth_change = enlarged_box(smooth_change, size / work, (top, bottom, left, right), box_size)
            fine_gain = enlarged_box(fine_gain, size / work, (top, bottom, left, right), box_size)
            fine_change = cv2.multiply(fine_box, fine_gain)[..., None]
            changed = cv2.add(face_box, cv2.add(smooth_change, np.repeat(fine_change, 3, axis=2)))
            result = crop.copy()
            result[top:bottom, left:right] = np.clip(changed, 0, 255, out=changed).astype(np.uint8)
            shift = strength.shape * feature_shift(landmarks, own_shape, self._shape(float(target), female), inner)
            shift += head_growth(landmarks, own_age, float(target), pad, inner)
            if pull > 0:
                # The shape too is drawn towards the target's own (a child's rounder, shorter face), as a whole
                # outline: eyes and lips keep their own shape (see feature_shift).
                now = landmarks + shift
                target_shape = self._shape(float(target), female)
                shift += (
                    strength.shape * _SHAPE_PULL * pull * feature_shift(now, (now - pad) / inner, target_shape, inner)
                )
            if target < own_age:
                shift += lower_face_floor(landmarks + shift)  # a child's chin, not a doll's
            held = pins if target < own_age else pins[:0]
            iris_scale, lid_drop = eye_maturity(own_age, float(target))  # a grown child's eyes (see eyes.py)
            result = mature_eyes(result, landmarks, iris_scale, lid_drop)
            if moved_landmarks is not None:
                moved_landmarks.append(landmarks + shift + lowered_lids(landmarks, lid_drop))
            source, moved = np.concatenate([landmarks, held]), np.concatenate([landmarks + shift, held])
            region = None if keep_margin else (pad, pad, inner, inner)
            return warp_points(result, source, moved, border_margin=0.0, region=region)

        # Threads over the ages measured no faster: OpenCV already spreads each warp over the cores.
        aged = [at(float(target)) for target in target_ages]
        return np.stack(aged)

    # -- the change between two prototypes, in the reference frame ------------------------------------------
    def _blend(self, age: float, female: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        weights = self.prototypes.weights(age, female)
        cells = [(g, s, w) for (g, s), w in np.ndenumerate(weights) if w > 0]
        coarse = sum(w * self._bands.coarse[g, s] for g, s, w in cells)
        medium = sum(w * self._bands.medium[g, s] for g, s, w in cells)
        energy = sum(w * self._bands.energy[g, s] for g, s, w in cells)
        return coarse, medium, energy

    def _features(self, age: float, female: float) -> np.ndarray:
        weights = self.prototypes.weights(age, female)
        return sum(w * self._bands.features[g, s] for (g, s), w in np.ndenumerate(weights) if w > 0)

    def _shape(self, age: float, female: float) -> np.ndarray:
        weights = self.prototypes.weights(age, female)
        return np.tensordot(weights, self.prototypes.shapes.astype(np.float64), axes=([0, 1], [0, 1]))

    def _change(self, own, target, s: AgingStrength) -> tuple[np.ndarray, np.ndarray]:
        """(E, E, 5): coarse ratio (3), fine and medium gains (2); and (T, T, 1): the folds' difference, in
        brightness.

        The colour ratio keeps its pattern over the face (eye sockets, under-eye shadows, a child's rosy
        cheeks) but not its mean: the averages' overall tone differs between ages by lighting and camera, and a
        face made darker or paler as a whole reads as a grey or white patch against its own neck and ears."""
        (own_coarse, own_medium, own_energy), (target_coarse, target_medium, target_energy) = own, target
        per_channel = (target_coarse + _COARSE_FLOOR) / (own_coarse + _COARSE_FLOOR)
        per_channel = per_channel / (per_channel * self._skin_weights).sum(axis=(0, 1))
        brightness = (per_channel @ _LUMINANCE)[..., None]
        ratio = brightness**s.colour * (per_channel / brightness) ** (s.colour * _CHROMA_SHARE)
        exponents = np.array([s.fine, s.medium], np.float32)
        gains = ((target_energy + _ENERGY_FLOOR) / (own_energy + _ENERGY_FLOOR)) ** exponents
        folds = s.folds * (target_medium - own_medium)
        # Folds and lines, not a shade: their mean over the skin is taken out, as the colour ratio's is.
        folds = folds - (folds * self._skin_weights_full).sum()
        smooth = np.concatenate([np.clip(ratio, 0.5, 2.0), np.clip(gains, 0.15, _MAX_GAIN)], axis=2)
        return smooth.astype(np.float32), folds.astype(np.float32)

    def _map_to_reference(
        self,
        landmarks: np.ndarray,
        size: int,
        pad: float,
        inner: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For every pixel of the (padded) face crop, where it lies in the prototypes' reference frame; the
        chip framing starts at `pad` and spans `inner` pixels of the crop."""
        anchors = border_anchors(size, size, margin=_MAP_MARGIN)
        face_points = np.concatenate([landmarks, anchors])
        reference_points = np.concatenate(
            [self.prototypes.reference_shape * TEXTURE_SIZE, (anchors - pad) * (TEXTURE_SIZE / inner)]
        )
        return sampling_map(face_points, reference_points, (size, size))


def _mean_colour(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(3,) the weighted mean colour of an (H, W, 3) image, weights (H, W, 1)."""
    total = max(float(weights.sum()), 1e-6)
    return (image * weights).sum(axis=(0, 1)) / total
