"""How a face, found, read and aligned by the pipeline, becomes the same face at other ages: one small
interface that the pipeline (and through it the workers, the lifespan film and the morph) uses, so that none
of them knows the renderers by name.

- `prototypes` (the default): the change between age prototypes applied to the photo's own pixels (shape,
  skin, colour), on a crop with some of the photo around the face (`padding`).
- `caae`: the generator's change at 64 px, blended with its own rendering (the renderer before prototypes).

This module imports no model until a renderer is made, so reading the configuration stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from aging_model.pipeline import FaceResult
    from aging_model.prototypes.aging import PrototypeAger
    from preprocessing.landmarks import DenseLandmarker

DEFAULT_RENDERER = "prototypes"
RENDERER_NAMES = ("prototypes", "caae")


class Renderer(Protocol):
    """Makes one face's aged crops.

    `padding` is the share of the photo (of the crop's side, on each side) the renderer needs around the chip
    framing: the pipeline aligns `face.padded_detail` with it, and `face.detail` is its middle.
    """

    name: str
    padding: float

    def render(
        self,
        face: FaceResult,
        ages: Sequence[float],
        own_age: float,
        generated: np.ndarray,
        baseline: np.ndarray,
    ) -> np.ndarray:
        """(n_ages, P, P, 3) uint8: `face.padded_detail` at each age, its margin included (P = D, `face.detail`,
        where `padding` is 0); the pipeline pastes the margin back too, so a change of shape that reaches beyond
        the chip framing (a chin rising, a jaw narrowing) shows whole rather than half blended with the photo.
        `generated` is the generator's face at each age (n_ages, R, R, 3) and `baseline` its face at the face's
        own age, for renderers that use them. A renderer that moves the face's landmarks sets
        `face.aged_landmarks` (n_ages, 68, 2) in `face.detail`'s pixels (the neck below the moved jaw follows it)."""
        ...


class PrototypeRenderer:
    """The default: the photo's own face moved from its age's prototype towards each target's."""

    name = "prototypes"

    def __init__(self, ager: PrototypeAger | None = None, landmarker: DenseLandmarker | None = None):
        from aging_model.prototypes.aging import AGING_PADDING, PrototypeAger
        from preprocessing.landmarks import DenseLandmarker

        self.padding = AGING_PADDING
        self.ager = ager or PrototypeAger.load()
        self.landmarker = landmarker or DenseLandmarker()

    def render(self, face, ages, own_age, generated, baseline) -> np.ndarray:
        from preprocessing.alignment import padding_pixels

        pad = padding_pixels(face.detail.shape[0], self.padding)
        own = face.landmarks if face.landmarks is not None else self.landmarker.landmarks(face.detail)
        landmarks = own + pad
        moved: list[np.ndarray] = []
        aged = self.ager.age(
            face.padded_detail,
            landmarks,
            own_age,
            face.gender_condition,
            ages,
            padding=self.padding,
            keep_margin=True,
            moved_landmarks=moved,
        )
        face.aged_landmarks = np.stack(moved) - pad
        return aged


class CaaeRenderer:
    """The CAAE's change from the face's own age to each target, transferred onto the sharper crop."""

    name = "caae"
    padding = 0.0

    def __init__(self, rendering_weight: float | None = None):
        from preprocessing.compositing import RENDERING_WEIGHT

        self.rendering_weight = RENDERING_WEIGHT if rendering_weight is None else rendering_weight

    def render(self, face, ages, own_age, generated, baseline) -> np.ndarray:
        from preprocessing.compositing import transfer_aging

        return np.stack(
            [transfer_aging(face.detail, g, baseline, rendering_weight=self.rendering_weight) for g in generated]
        )


def make_renderer(name: str = DEFAULT_RENDERER, rendering_weight: float | None = None) -> Renderer:
    """The renderer called `name` (one of RENDERER_NAMES); a ValueError names the choices otherwise."""
    if name == "prototypes":
        return PrototypeRenderer()
    if name == "caae":
        return CaaeRenderer(rendering_weight)
    raise ValueError(f"renderer must be one of {', '.join(RENDERER_NAMES)}, not {name!r}")
