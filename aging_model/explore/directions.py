"""Named directions of the latent space: principal components of the codes of encoded training faces.

The top components are the ways in which real faces' codes differ most. Each is named after the measured
property of the training faces (`aging_model.explore.face_measures`) its score goes with most, where the correlation
is at least MIN_CORRELATION; a component nothing measured explains keeps a neutral "direction N". Scores are
in units of the component's spread over the training faces, so a slider from -3 to 3 covers almost all of them.

The basis ships as a small safetensors file (mean, components, spreads; names and how it was built in its
metadata), built by `faceage explore build-directions`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from aging_model.explore.face_measures import MEASURES, Measure
from aging_model.shipped import WEIGHTS_DIR

log = logging.getLogger(__name__)

DEFAULT_DIRECTIONS_PATH = WEIGHTS_DIR / "latent-directions.safetensors"
DEFAULT_COMPONENTS = 8
MIN_CORRELATION = 0.3  # |Pearson r| a measure needs to name a direction; weaker ones would mislead
_METADATA_KEY = "faceage_directions"


@dataclass(frozen=True)
class Direction:
    """One principal component: what it is called and what its two ends look like."""

    name: str  # a measure's name, or "direction N"
    lower: str  # what faces with a negative score look like
    higher: str  # ... and with a positive one
    spread: float  # the standard deviation of the training faces' scores, in latent units
    explained_variance: float  # its share of the codes' total variance
    measure: str | None = None  # the key of the measure it is named after
    correlation: float | None = None  # Pearson r between its score and that measure (positive by construction)


@dataclass(frozen=True)
class LatentDirections:
    """The basis: scores of a latent along named directions, and latents moved along one of them."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (K, D), orthonormal rows
    directions: tuple[Direction, ...]
    card: dict = field(default_factory=dict)  # how it was built

    def scores(self, latent: np.ndarray) -> np.ndarray:
        """(K,) the latent's position along each direction, in spreads."""
        projected = self.components @ (np.asarray(latent, np.float64) - self.mean)
        return projected / self.spreads

    def steer(self, latent: np.ndarray, index: int, score: float) -> np.ndarray:
        """The latent moved along direction `index` until its score there is `score` (in spreads), or as far
        as the latent's range [-1, 1] allows.

        Latents near the range's edges would be clipped by a straight move and fall short of the score, so the
        move's length is searched for with the clipping applied (the score grows monotonically with it). The
        other directions' scores stay where no value is clipped.
        """
        if not 0 <= index < len(self.directions):
            raise ValueError(f"there are {len(self.directions)} directions, numbered from 0; {index} is not one")
        if not np.isfinite(score):
            raise ValueError("a score must be a finite number")
        latent = np.asarray(latent, np.float64)
        axis = self.components[index]
        wanted = (score - self.scores(latent)[index]) * self.spreads[index]
        moved = lambda length: np.clip(latent + length * axis, -1.0, 1.0)  # noqa: E731
        shortfall = lambda length: axis @ (moved(length) - latent) - wanted  # noqa: E731
        longest = 2 * np.sqrt(len(latent)) + 1  # longer than the diagonal of [-1, 1]^D: every value clipped
        low, high = -longest, longest
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if shortfall(middle) < 0 else (low, middle)
        return moved((low + high) / 2)

    @property
    def spreads(self) -> np.ndarray:
        return np.array([d.spread for d in self.directions])


def principal_directions(latents: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (D,), components (count, D), explained variance share (count,)) of latents (N, D)."""
    latents = np.asarray(latents, np.float64)
    mean = latents.mean(axis=0)
    _, singular, rows = np.linalg.svd(latents - mean, full_matrices=False)
    variance = singular**2
    return mean, rows[:count], variance[:count] / variance.sum()


def name_directions(
    scores: np.ndarray, measured: dict[str, np.ndarray], min_correlation: float = MIN_CORRELATION
) -> list[tuple[Measure | None, float | None]]:
    """For each column of `scores` (N, K): the measure it is named after and their correlation, or (None, None).

    Greedy over all (direction, measure) pairs, strongest |r| first, so that each measure names one direction
    at most: the direction it explains best. The correlation's sign is kept (the caller orients the direction).
    """
    table = {
        (column, measure.key): _correlation(scores[:, column], measured[measure.key])
        for column in range(scores.shape[1])
        for measure in MEASURES
        if measure.key in measured
    }
    by_key = {measure.key: measure for measure in MEASURES}
    names: list[tuple[Measure | None, float | None]] = [(None, None)] * scores.shape[1]
    taken: set[str] = set()
    for (column, key), r in sorted(table.items(), key=lambda item: -abs(item[1])):
        if abs(r) < min_correlation:
            break
        if names[column][0] is None and key not in taken:
            names[column] = (by_key[key], r)
            taken.add(key)
    return names


def correlation_table(scores: np.ndarray, measured: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Per measure, its Pearson r with every direction's score: the evidence behind the names."""
    return {
        key: [round(_correlation(scores[:, column], values), 3) for column in range(scores.shape[1])]
        for key, values in measured.items()
    }


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r over the faces where both are measured; 0 where either does not vary."""
    known = np.isfinite(x) & np.isfinite(y)
    if known.sum() < 3 or x[known].std() == 0 or y[known].std() == 0:
        return 0.0
    return float(np.corrcoef(x[known], y[known])[0, 1])


def orient_and_name(
    mean: np.ndarray, components: np.ndarray, shares: np.ndarray, latents: np.ndarray, measured: dict
) -> LatentDirections:
    """Directions from principal components: each named, and turned so that a positive score means more of
    the measure it is named after (an unnamed one so that its largest loading is positive)."""
    scores = (latents - mean) @ components.T
    components = components.copy()
    directions = []
    for index, (measure, r) in enumerate(name_directions(scores, measured)):
        if measure is not None:
            sign = 1.0 if r > 0 else -1.0
        else:
            sign = 1.0 if components[index][np.argmax(np.abs(components[index]))] > 0 else -1.0
        components[index] *= sign
        spread = float(scores[:, index].std())
        if measure is None:
            name = f"direction {index + 1}"
            direction = Direction(name, f"{name} -", f"{name} +", spread, float(shares[index]))
        else:
            correlation = round(abs(r), 3)
            direction = Direction(
                measure.name, measure.lower, measure.higher, spread, float(shares[index]), measure.key, correlation
            )
        directions.append(direction)
    return LatentDirections(mean=mean, components=components, directions=tuple(directions))


def save_directions(path: Path, directions: LatentDirections) -> None:
    """The basis in safetensors (float16, like the model weights), names and card in its metadata."""
    import torch

    from aging_model.weights_io import save_weights

    tensors = {
        "mean": torch.from_numpy(np.asarray(directions.mean, np.float32)),
        "components": torch.from_numpy(np.asarray(directions.components, np.float32)),
    }
    info = {"directions": [asdict(d) for d in directions.directions], "card": directions.card}
    save_weights(path, tensors, _METADATA_KEY, info)


def load_directions(path: Path = DEFAULT_DIRECTIONS_PATH) -> LatentDirections:
    """The shipped (or a built) basis; FileNotFoundError or ValueError with a message for the user."""
    from aging_model.weights_io import load_weights

    tensors, info = load_weights(path, _METADATA_KEY, "latent directions")
    directions = tuple(Direction(**d) for d in info["directions"])
    return LatentDirections(
        mean=tensors["mean"].double().numpy(),
        components=tensors["components"].double().numpy(),
        directions=directions,
        card=info.get("card", {}),
    )


def file_digest(path: Path) -> str:
    """sha256 of a file: which model a basis was built for."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
