"""Facial hair and brows that age with the face, on the face crop's own pixels: a beard, moustache or stubble and
the brows grey going old (brows later and less than the head's hair), and a grey beard aimed decades back
darkens (aimed at a child, the shaving zone is drawn to the child prototype's skin instead: see aging.py).

Both are colour changes at the renderer's work size; the strands' fine detail is laid back on at the crop's own
size, so a greyed beard keeps its strands. Only what looks like hair changes: darker than the face's own skin,
textured and nearly colourless (a shadow beside the mouth is dark but smooth and keeps the skin's hue), or, going
young, light and colourless.
"""

from __future__ import annotations

import cv2
import numpy as np

from aging_model.hair import grey_share
from aging_model.prototypes.face_regions import grey_hairs
from aging_model.prototypes.proportions import CHILD_AGE

_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)
# A grey beard or moustache aimed at an adult age many years back moves towards the dark brown grey hair takes
# going young (hair.py), by up to _BEARD_DARKENING as the years taken away reach _BEARD_YEARS.
_YOUNG_BEARD = np.array([62.0, 46.0, 36.0], np.float32)
_BEARD_DARKENING = 0.8
_BEARD_YEARS = 30.0
# Greying goes towards a slightly warm grey-white, keeping each strand's contrast against its neighbours.
_GREY_BEARD = np.array([206.0, 201.0, 192.0], np.float32)
_STRAND_CONTRAST = 1.4
_DARKER_THAN_SKIN = (25.0, 45.0)  # grey levels below the skin's mean: from nothing to all of it counted as hair
_TEXTURE = (4.0, 8.0)  # grey levels of local spread at the work size: from smooth (shadow) to hair
_HAIR_CHROMA = (0.35, 0.6)  # of the skin's chroma: below the first all hair, above the second a shadow
_BROWS_SHARE = 0.4  # brows grey later than the head's hair and rarely all the way


class FacialHair:
    """One face's facial hair, found once (what is dark hair, what is grey hair, the grey each strand would take)
    and changed for each target age."""

    def __init__(
        self,
        small: np.ndarray,
        zones: tuple[np.ndarray, np.ndarray, np.ndarray],
        own_tone: np.ndarray,
        own_age: float,
        beard: float,
    ):
        """`small`: the face at the work size, float32 RGB; `zones`: the shaving zone, the zone under the jaw and
        the brows, (h, w, 1) each; `own_tone`: the skin's mean colour; `beard`: how much the face is a man's."""
        shaving_zone, under_jaw, brows = zones
        self.small, self.own_age, self.beard = small, own_age, beard
        self._darkening = None  # made on the first younger target: (h, w, 3), at full darkening
        self._under_jaw = under_jaw
        self._greying = None
        if own_age >= CHILD_AGE:  # a child has no beard to grey, and its brows are drawn by the prototypes
            zone = np.maximum(beard * shaving_zone, _BROWS_SHARE * brows)
            hair, goal = _dark_hair(small, own_tone)
            self._greying = zone * hair[..., None] * (goal - small)

    def change(self, target: float) -> np.ndarray | None:
        """(h, w, 3) the colour change at `target`, or None where nothing changes."""
        if target < self.own_age:
            if self.beard <= 0:
                return None
            if self._darkening is None:
                self._darkening = self._under_jaw * grey_hairs(self.small) * (_YOUNG_BEARD - self.small)
            return _BEARD_DARKENING * self.beard * min(1.0, (self.own_age - target) / _BEARD_YEARS) * self._darkening
        if self._greying is None:
            return None
        own = grey_share(self.own_age)
        amount = (grey_share(target) - own) / max(1.0 - own, 1e-3)
        return amount * self._greying if amount > 0.01 else None


def _dark_hair(small: np.ndarray, own_tone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((h, w) how much each pixel looks like dark hair, (h, w, 3) the grey-white it would take)."""
    brightness = small @ _LUMINANCE
    local = cv2.GaussianBlur(brightness, (0, 0), 1.5)
    spread = np.sqrt(np.maximum(cv2.GaussianBlur(brightness * brightness, (0, 0), 1.5) - local * local, 0.0))
    darker = float(own_tone @ _LUMINANCE) - cv2.GaussianBlur(brightness, (0, 0), 1.0)
    hair = _ramp(darker, _DARKER_THAN_SKIN) * _ramp(cv2.GaussianBlur(spread, (0, 0), 2.0), _TEXTURE)
    # A shadow on skin keeps the skin's hue and much of its chroma; dark hair is nearly colourless.
    skin_chroma = max(float(_chroma(own_tone[None, None])[0, 0]), 1.0)
    chroma = _chroma(cv2.GaussianBlur(small, (0, 0), 1.0)) / skin_chroma
    hair *= 1.0 - _ramp(chroma, _HAIR_CHROMA)
    goal = _GREY_BEARD + _STRAND_CONTRAST * (brightness - local)[..., None]
    return hair, goal


def _chroma(rgb: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return np.hypot(lab[..., 1], lab[..., 2])


def _ramp(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    low, high = limits
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)
