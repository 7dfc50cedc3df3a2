"""How the explorer's two shipped files are made from training faces (`faceage explore ...`).

- the named directions (`aging_model.explore.directions`): encode a random sample of aligned training faces, take
  the principal components of their codes, and name each after the measure of the faces it goes with;
- the realism reference of best-of-N (`aging_model.explore.ranking`): MTCNN's face logits of those faces'
  reconstructions, rendered from their codes at their labelled age and gender, as served.

The faces are aligned exactly as for training (`aging_model.data`), in the same cache files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from aging_model.explore.directions import (
    DEFAULT_COMPONENTS,
    LatentDirections,
    correlation_table,
    file_digest,
    orient_and_name,
    principal_directions,
)
from aging_model.explore.face_measures import measure_faces
from aging_model.explore.latent import code_from_latent, latent_from_code
from aging_model.explore.ranking import RealismReference, face_logits

log = logging.getLogger(__name__)

MEASURE_SIZE = 128  # dlib's 68 points need more than the model's 64 px


@dataclass(frozen=True)
class TrainingSample:
    """Aligned training faces with their labels, at the model's resolution and at MEASURE_SIZE."""

    names: list[str]
    ages: np.ndarray  # (N,) labelled ages
    genders: np.ndarray  # (N,) 0 male, 1 female
    faces: np.ndarray  # (N, R, R, 3) uint8, as the encoder sees them
    detail: np.ndarray  # (N, MEASURE_SIZE, MEASURE_SIZE, 3) uint8, the same alignment, to measure
    chip_landmarks: np.ndarray  # (N, 5, 2) MTCNN on the dataset's own chips, NaN where none was found
    source: str
    seed: int


def load_training_sample(
    data: str | Path, cache_dir: str | Path, count: int, seed: int, resolution: int
) -> TrainingSample:
    """`count` faces drawn at random (with `seed`) from the training split of a UTKFace-style folder.

    Landmarks and aligned crops are cached in `cache_dir` under the names `load_aligned_split` gives them, so
    a training run and this share the work.
    """
    from aging_model.data import align_chips, chip_landmarks, index_folder, split_faces

    train, _validation = split_faces(index_folder(Path(data)).faces)
    if not train:
        raise ValueError(f"no labelled training faces in {data}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(train), min(count, len(train)), replace=False))
    faces = [train[i] for i in chosen]
    data_key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:8]  # as load_aligned_split
    cache_dir = Path(cache_dir)
    landmarks = chip_landmarks(faces, cache_dir / f"landmarks-{data_key}.npz")
    model_input, _ = align_chips(faces, landmarks, resolution, cache_dir / f"aligned-{data_key}-{resolution}.npz")
    detail, _ = align_chips(faces, landmarks, MEASURE_SIZE, cache_dir / f"aligned-{data_key}-{MEASURE_SIZE}.npz")
    as_arrays = lambda tensors: tensors.images.permute(0, 2, 3, 1).numpy()  # noqa: E731
    return TrainingSample(
        names=model_input.names,
        ages=model_input.ages.numpy(),
        genders=model_input.genders.numpy(),
        faces=as_arrays(model_input),
        detail=as_arrays(detail),
        chip_landmarks=np.stack([landmarks[name] for name in model_input.names]).astype(np.float64),
        source=str(data),
        seed=seed,
    )


def sample_codes_of(model, sample: TrainingSample) -> list[str]:
    """The code of every face of the sample, as the explorer would write it after an upload."""
    from aging_model.explore.explorer import encode_face

    return [code_from_latent(encode_face(model, face)) for face in tqdm(sample.faces, desc="encoding", unit="face")]


def build_directions(
    model, estimator, sample: TrainingSample, model_path: Path, count: int = DEFAULT_COMPONENTS
) -> LatentDirections:
    """Principal components of the sample's codes, named by the measures of its faces."""
    from preprocessing.landmarks import DenseLandmarker

    latents = np.stack([latent_from_code(code) for code in sample_codes_of(model, sample)]).astype(np.float64)
    landmarker = DenseLandmarker()
    dense = np.stack([landmarker.landmarks(face) for face in tqdm(sample.detail, desc="measuring", unit="face")])
    measured = measure_faces(sample.detail, sample.chip_landmarks, dense, estimator.estimate(sample.detail))
    mean, components, shares = principal_directions(latents, count)
    directions = orient_and_name(mean, components, shares, latents, measured)
    scores = (latents - directions.mean) @ directions.components.T
    card = {
        "method": "principal components of the codes of encoded training faces; each named after the measure "
        "of the faces its score correlates with most (|r| >= 0.3), else 'direction N'",
        "training_data": sample.source,
        "faces": len(sample.names),
        "seed": sample.seed,
        "model_sha256": file_digest(model_path),
        "explained_variance_total": round(float(shares.sum()), 4),
        "correlations": correlation_table(scores, measured),
    }
    return replace(directions, card=card)


def calibrate_realism(model, detector, sample: TrainingSample, model_path: Path) -> RealismReference:
    """MTCNN face logits of the sample's reconstructions, each rendered from its code at its labelled age
    (at most 100) and gender and upscaled as the page shows it."""
    from aging_model.explore.explorer import MAX_AGE, render_face, upscale_for_display

    codes = sample_codes_of(model, sample)
    logits = []
    for code, age, gender in tqdm(
        zip(codes, sample.ages, sample.genders), total=len(codes), desc="judging", unit="face"
    ):
        face = render_face(model, code, min(float(age), MAX_AGE), "female" if gender == 1 else "male")
        logits.append(face_logits(detector, [upscale_for_display(face)])[0])
    logits = np.array(logits)
    found = np.isfinite(logits)
    card = {
        "method": "MTCNN face logits of training faces reconstructed from their codes at their labelled age and "
        "gender, upscaled for display",
        "training_data": sample.source,
        "faces": len(codes),
        "faces_without_detection": int((~found).sum()),
        "seed": sample.seed,
        "model_sha256": file_digest(model_path),
    }
    return RealismReference.from_logits(logits[found], card)
