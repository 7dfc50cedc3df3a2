"""Best of N without a discriminator: which of several generated faces to show first.

The shipped weights hold the encoder and generator only; the CAAE's image discriminator stayed behind with
the training run. What ships instead, and judges faces the generator never saw:

- realism: MTCNN's confidence that the face (upscaled as shown) is a face. Its probability saturates near 1
  for most renders, so its logit is used, and read against real faces: the share of the training faces'
  own reconstructions whose logit is lower (`RealismReference`, built by `faceage explore
  calibrate-ranking`). 0.5 is as face-like as the median reconstructed training face. By eye, low logits
  are the renders with broken features (smeared eyes, glasses-like streaks, melted mouths).
- agreement with the request: the age and gender estimator should read the face as the gender asked for
  (its probability of that gender) and near the age asked for (a Gaussian of the difference, 10 years wide,
  about twice the estimator's error on real faces).

The score is the product of the three, in [0, 1]: a face must look like a face, and like the person asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aging_model.shipped import WEIGHTS_DIR

DEFAULT_REALISM_PATH = WEIGHTS_DIR / "face-realism.json"
AGE_TOLERANCE_YEARS = 10.0
_PROBABILITY_FLOOR = 1e-7  # MTCNN's float32 probabilities reach 1.0 exactly; logits stop at about +-16


@dataclass(frozen=True)
class RealismReference:
    """MTCNN face logits of reconstructed training faces, as quantiles 0, 1, ..., 100 %."""

    quantiles: np.ndarray  # (101,)
    card: dict

    def realism(self, logits: np.ndarray) -> np.ndarray:
        """The share of the reference faces less face-like than each of `logits`, in [0, 1]."""
        return np.interp(logits, self.quantiles, np.linspace(0.0, 1.0, len(self.quantiles)))

    def save(self, path: Path) -> None:
        record = {"face_logit_quantiles": [round(float(q), 4) for q in self.quantiles], "card": self.card}
        Path(path).write_text(json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = DEFAULT_REALISM_PATH) -> RealismReference:
        try:
            record = json.loads(Path(path).read_text())
            quantiles = np.asarray(record["face_logit_quantiles"], dtype=np.float64)
        except FileNotFoundError:
            raise FileNotFoundError(f"realism reference not found: {path}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a Faceage realism reference: {error}") from None
        if quantiles.ndim != 1 or len(quantiles) < 2 or np.any(np.diff(quantiles) < 0):
            raise ValueError(f"{path} does not hold increasing face logit quantiles")
        return cls(quantiles, record.get("card", {}))

    @classmethod
    def from_logits(cls, logits: np.ndarray, card: dict) -> RealismReference:
        return cls(np.percentile(np.asarray(logits, np.float64), np.arange(101)), card)


@dataclass(frozen=True)
class FaceJudgement:
    """Why a face ranks where it does."""

    score: float
    realism: float
    face_logit: float
    estimated_age: float
    female_probability: float


def face_logits(detector, displayed: list[np.ndarray]) -> np.ndarray:
    """MTCNN's logit that each image is a face (its most confident detection), -inf where it finds none."""
    logits = []
    for image in displayed:
        probability = max((face.probability for face in detector.detect(image, max_faces=3)), default=None)
        if probability is None:
            logits.append(-np.inf)
            continue
        p = float(np.clip(probability, _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR))
        logits.append(np.log(p / (1 - p)))
    return np.array(logits)


def judge_faces(
    detector,
    estimator,
    reference: RealismReference,
    faces: np.ndarray,
    displayed: list[np.ndarray],
    age: float,
    female: float,
) -> list[FaceJudgement]:
    """Score generated faces asked for at `age` with `female` (0 male, 1 female): `faces` (N, R, R, 3) as
    generated, `displayed` the same faces as shown (upscaled), which MTCNN judges at the size it is made for."""
    logits = face_logits(detector, displayed)
    realism = np.where(np.isfinite(logits), reference.realism(np.nan_to_num(logits, neginf=-1e9)), 0.0)
    estimate = estimator.estimate(faces)
    gender_agreement = female * estimate.female_probability + (1 - female) * (1 - estimate.female_probability)
    age_agreement = np.exp(-0.5 * ((estimate.ages - age) / AGE_TOLERANCE_YEARS) ** 2)
    scores = realism * gender_agreement * age_agreement
    return [
        FaceJudgement(float(s), float(r), float(lg), float(a), float(f))
        for s, r, lg, a, f in zip(scores, realism, logits, estimate.ages, estimate.female_probability)
    ]
