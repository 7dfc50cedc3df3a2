"""The prototypes decomposed once, at load, into the bands the renderer changes: per age group and gender, the
skin's coarse colour, the medium detail, the detail energies and the features' band."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aging_model.prototypes.age_prototypes import COARSE_SIGMA, ENERGY_SIZE, AgePrototypes, detail_bands
from aging_model.prototypes.child_features import features_band
from aging_model.prototypes.face_regions import skin_around

_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass
class PrototypeBands:
    coarse: np.ndarray  # (10, 2, E, E, 3) float32, of the skin only (see `of`); smooth, so at E
    medium: np.ndarray  # (10, 2, T, T, 1) float32, in brightness: detail is changed in brightness only
    energy: np.ndarray  # (10, 2, E, E, 2) float32, [fine, medium]
    features: np.ndarray  # (10, 2, T, T, 3) float32, the whole face's (see child_features)

    @classmethod
    def of(cls, prototypes: AgePrototypes, skin: np.ndarray) -> PrototypeBands:
        """The bands of `prototypes`, their coarse colour taken from the `skin` (T, T) mask's pixels only."""
        textures = prototypes.textures.astype(np.float32)
        groups, genders = textures.shape[:2]
        medium = np.zeros((*textures.shape[:-1], 1), np.float32)
        features = np.zeros_like(textures)
        coarse = np.zeros((groups, genders, ENERGY_SIZE, ENERGY_SIZE, 3), np.float32)
        for g in range(groups):
            for s in range(genders):
                medium[g, s] = detail_bands(textures[g, s])[1] @ _LUMINANCE[:, None]
                features[g, s] = features_band(textures[g, s], 1.0)
                coarse[g, s] = cv2.resize(
                    # Hair and background (whose averages differ between ages for reasons that are not age, such as
                    # a child's bright studio backdrop) must not bleed into the colour change at the face's edge.
                    skin_around(textures[g, s], (skin > 0.5)[..., None].astype(np.float32), COARSE_SIGMA, 0.05),
                    (ENERGY_SIZE, ENERGY_SIZE),
                    interpolation=cv2.INTER_AREA,
                )
        energy = np.ascontiguousarray(prototypes.detail_energy.astype(np.float32).transpose(0, 1, 3, 4, 2))
        return cls(coarse, medium, energy, features)
