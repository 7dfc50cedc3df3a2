"""Age prototypes: what faces of each age group and gender share, measured on aligned training faces.

Burt & Perrett (1995) and Tiddeman, Burt & Perrett (2001) age a face by the difference between prototypes —
averages of many faces of one age — rather than by painting a new face: the photo's own pixels stay and only
what age changes is changed. Per age group and gender this module keeps:
- `shapes`: the mean position of dlib's 68 landmarks on faces aligned like the product's inputs;
- `textures`: the mean face, every face first warped to one common reference shape, so features line up and
  the average stays sharp where faces agree (folds, eye bags, lip lines);
- `detail_energy`: the mean local energy of the faces' own fine and medium detail (pores, stubble,
  wrinkles). Averaging faces cancels detail that sits in different places on each face, so a mean face looks
  smoother than any face; the energy of each face's detail, averaged, does not cancel, and its ratio between
  two ages says how much rougher or smoother the skin gets.

`build_prototypes` makes them from (crop, landmarks, group, gender) samples; `AgePrototypes.save`/`load` keep
them in a small safetensors file shipped beside the model weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from aging_model.age_groups import N_AGE_GROUPS, age_condition
from aging_model.shipped import WEIGHTS_DIR
from preprocessing.warping import warp_points

DEFAULT_PROTOTYPES_PATH = WEIGHTS_DIR / "age-prototypes.safetensors"
TEXTURE_SIZE = 256  # the mean faces, in the same chip framing as the aligned inputs
ENERGY_SIZE = 128  # the detail energy maps are smooth, so they are kept at half the size
# Frequency bands, as Gaussian sigmas in TEXTURE_SIZE pixels: fine detail is what a blur of FINE_SIGMA removes
# (pores, stubble, fine lines); medium detail lies between FINE_SIGMA and COARSE_SIGMA (wrinkles, folds); the
# rest is colour and shading. ENERGY_SIGMA is the neighbourhood over which a band's energy is measured.
FINE_SIGMA = 1.2
COARSE_SIGMA = 5.0
ENERGY_SIGMA = 4.0
N_GENDERS = 2  # 0 = male, 1 = female, as in UTKFace's labels


@dataclass(frozen=True)
class AgePrototypes:
    """Per age group (10) and gender (2): mean shape, mean texture and mean detail energy."""

    shapes: np.ndarray  # (10, 2, 68, 2) float32, landmarks in units of the crop's side (0..1)
    textures: np.ndarray  # (10, 2, T, T, 3) uint8, mean faces warped to `reference_shape`
    detail_energy: np.ndarray  # (10, 2, 2, E, E) float16: [fine, medium] RMS detail, in the reference frame
    reference_shape: np.ndarray  # (68, 2) float32, units of the side: the frame textures and energies live in
    counts: np.ndarray  # (10, 2) int: faces averaged per cell

    def weights(self, age: float, female: float) -> np.ndarray:
        """(10, 2) weights of the cells that make up one (age, gender): ages between group centres and
        genders between 0 and 1 blend neighbouring cells, like the generator's soft condition."""
        by_age = age_condition(age).astype(np.float64)
        female = float(np.clip(female, 0.0, 1.0))
        return by_age[:, None] * np.array([1.0 - female, female])[None, :]

    def save(self, path: Path, card: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            {
                "shapes": self.shapes.astype(np.float32),
                "textures": self.textures.astype(np.uint8),
                "detail_energy": self.detail_energy.astype(np.float16),
                "reference_shape": self.reference_shape.astype(np.float32),
                "counts": self.counts.astype(np.int32),
            },
            str(path),
            metadata={"card": json.dumps(card or {})},
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_PROTOTYPES_PATH) -> AgePrototypes:
        if not Path(path).exists():
            raise FileNotFoundError(f"no age prototypes at {path}; build them with `faceage prototypes build`")
        tensors = load_file(str(path))
        return cls(
            shapes=tensors["shapes"],
            textures=tensors["textures"],
            detail_energy=tensors["detail_energy"],
            reference_shape=tensors["reference_shape"],
            counts=tensors["counts"],
        )


def detail_bands(image: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coarse, medium, fine) bands of a float32 image whose sum is the image; `scale` is its size in
    TEXTURE_SIZE units, so the bands mean the same thing at any resolution."""
    blurred_fine = cv2.GaussianBlur(image, (0, 0), FINE_SIGMA * scale)
    coarse = cv2.GaussianBlur(image, (0, 0), COARSE_SIGMA * scale)
    return coarse, blurred_fine - coarse, image - blurred_fine


def _luminance(band: np.ndarray) -> np.ndarray:
    return band @ np.array([0.299, 0.587, 0.114], np.float32) if band.ndim == 3 else band


def local_energy(band: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The band's local mean square (of its luminance), over a Gaussian neighbourhood of ENERGY_SIGMA."""
    luminance = _luminance(band)
    return cv2.GaussianBlur(luminance * luminance, (0, 0), ENERGY_SIGMA * scale)


@dataclass
class _CellSums:
    texture: np.ndarray
    energy: np.ndarray


def _balancing_weights(samples: list[PrototypeSample]) -> np.ndarray:
    """Per sample, 1 / (faces of its race in its cell): every race in a cell weighs the same in total."""
    keys = [(s.group, s.gender, s.race) for s in samples]
    per_key: dict = {}
    for key in keys:
        per_key[key] = per_key.get(key, 0) + 1
    return np.array([1.0 / per_key[key] for key in keys])


@dataclass(frozen=True)
class PrototypeSample:
    """One aligned training face: crop (T, T, 3) uint8, chip-framed; its 68 landmarks in crop pixels; labels."""

    crop: np.ndarray
    landmarks: np.ndarray
    group: int
    gender: int
    race: int | None = None


def build_prototypes(samples: list[PrototypeSample]) -> AgePrototypes:
    """Prototypes from aligned faces with landmarks.

    Within a cell, each race present counts equally (`_balancing_weights`): UTKFace's children, adults and
    elderly differ in their mix of races, and without this the difference between two ages' prototypes would
    carry a change of skin tone. Two passes: mean shapes first (their average over all cells is the reference
    shape), then every face warped to the reference shape and summed into its cell.
    """
    if not samples:
        raise ValueError("no samples to build prototypes from")
    weights = _balancing_weights(samples)
    shapes = np.zeros((N_AGE_GROUPS, N_GENDERS, 68, 2), np.float64)
    totals = np.zeros((N_AGE_GROUPS, N_GENDERS), np.float64)
    counts = np.zeros((N_AGE_GROUPS, N_GENDERS), np.int64)
    for sample, weight in zip(samples, weights):
        shapes[sample.group, sample.gender] += weight * sample.landmarks / sample.crop.shape[0]
        totals[sample.group, sample.gender] += weight
        counts[sample.group, sample.gender] += 1
    if (counts == 0).any():
        missing = [(int(g), int(s)) for g, s in zip(*np.nonzero(counts == 0))]
        raise ValueError(f"no faces for (age group, gender) cells {missing}: every cell needs some")
    shapes /= totals[..., None, None]
    # Each cell counts equally in the reference, so it is not the shape of the most common age.
    reference = shapes.mean(axis=(0, 1))
    size = TEXTURE_SIZE
    sums = {
        (g, s): _CellSums(np.zeros((size, size, 3), np.float64), np.zeros((2, ENERGY_SIZE, ENERGY_SIZE), np.float64))
        for g in range(N_AGE_GROUPS)
        for s in range(N_GENDERS)
    }
    for sample, weight in tqdm(list(zip(samples, weights)), desc="prototypes", unit="face"):
        crop, marks = sample.crop, sample.landmarks / sample.crop.shape[0]
        if crop.shape[0] != size:
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        warped = warp_points(crop, marks * size, reference * size, border_margin=0.25).astype(np.float32)
        _, medium, fine = detail_bands(warped)
        cell = sums[(sample.group, sample.gender)]
        cell.texture += weight * warped
        for band_index, band in enumerate((fine, medium)):
            energy_map = cv2.resize(local_energy(band), (ENERGY_SIZE, ENERGY_SIZE), interpolation=cv2.INTER_AREA)
            cell.energy[band_index] += weight * energy_map
    textures = np.zeros((N_AGE_GROUPS, N_GENDERS, size, size, 3), np.uint8)
    energy = np.zeros((N_AGE_GROUPS, N_GENDERS, 2, ENERGY_SIZE, ENERGY_SIZE), np.float16)
    for (g, s), cell in sums.items():
        textures[g, s] = np.clip(cell.texture / totals[g, s], 0, 255).round().astype(np.uint8)
        energy[g, s] = np.sqrt(cell.energy / totals[g, s]).astype(np.float16)
    return AgePrototypes(
        shapes=shapes.astype(np.float32),
        textures=textures,
        detail_energy=energy,
        reference_shape=reference.astype(np.float32),
        counts=counts,
    )


def training_samples(
    data: Path,
    cache_dir: Path,
    per_race: int = 80,
    seed: int = 0,
    validation_percent: int = 5,
) -> tuple[list[PrototypeSample], dict]:
    """Up to `per_race` training-split faces per (age group, gender, race) of a UTKFace-style folder, aligned at
    TEXTURE_SIZE exactly as inputs are at inference, with their 68 landmarks; and counts of what was skipped.

    Faces whose landmarks fall far from the template (misdetections, extreme poses) are left out: an average
    of misaligned faces is a blur.
    """
    from aging_model.data import _plausible_chip_landmarks, chip_landmarks, index_folder, read_rgb, split_faces
    from preprocessing.alignment import align_face
    from preprocessing.landmarks import DenseLandmarker

    train, _ = split_faces(index_folder(Path(data)).faces, validation_percent)
    rng = np.random.default_rng(seed)
    chosen = []
    races = sorted({f.race for f in train}, key=lambda r: (r is None, r))
    for group in range(N_AGE_GROUPS):
        for gender in range(N_GENDERS):
            for race in races:
                cell = [f for f in train if f.age_group == group and f.gender == gender and f.race == race]
                order = rng.permutation(len(cell))[: per_race * 2]  # spares for the faces left out below
                chosen.append([cell[i] for i in order])
    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:8]
    landmarks = chip_landmarks([f for cell in chosen for f in cell], Path(cache_dir) / f"landmarks-{key}.npz")
    landmarker = DenseLandmarker()
    samples, skipped = [], {"no_landmarks": 0, "unreadable": 0}
    for cell in tqdm(chosen, desc="aligning prototype faces", unit="cell"):
        kept = 0
        for face in cell:
            if kept == per_race:
                break
            marks = landmarks.get(face.path.name)
            if marks is None or np.isnan(marks).any() or not _plausible_chip_landmarks(marks):
                skipped["no_landmarks"] += 1
                continue
            pixels = read_rgb(face.path)
            if pixels is None:
                skipped["unreadable"] += 1
                continue
            crop = align_face(pixels, marks, TEXTURE_SIZE).pixels
            samples.append(PrototypeSample(crop, landmarker.landmarks(crop), face.age_group, face.gender, face.race))
            kept += 1
    return samples, skipped
