"""Measured aging quality on held-out faces: does the face look the target age, is it still the same
person, does it look like a real face?

For every held-out face (the validation split, never trained on) the model renders all ten age groups.
- Age: the independent age estimator reads each output. Per group: mean, spread and the share landing in
  the target group; per face: Spearman rank correlation between target and estimated age.
- Identity: dlib embedding distance between the input and each output (0.6 = dlib's same-person threshold).
  The output at the face's own group is a reconstruction: the autoencoder's ceiling.
- Realism: Fréchet distance between real faces of a group and generated faces for that group, on the
  estimator's penultimate features; real against real (two disjoint sets of the same sizes) is the floor.
- Baselines: the input itself (identity perfect, age unchanged) and the group's mean face (age right,
  identity gone). A model is useful only when it beats both on age and identity at once.
- As served: what `faceage age` shows, measured the same way on sharper crops of the same faces (DETAIL_SIZE):
  the prototype renderer (the default) and the CAAE renderer before it, side by side. Two more measures for
  them: how real faces of each target age read to the same estimator (the ceiling: the estimator has its own
  bias, e.g. it under-reads the old), and the share of the input's fine detail that the aged face keeps.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from aging_model.age_groups import GROUP_CENTRES, N_AGE_GROUPS, age_to_group
from aging_model.evaluation.identity import identity_distance
from aging_model.evaluation.metrics import (
    age_metrics,
    detail_ratio,
    identity_metrics,
    model_goals,
    realism_metrics,
    served_goals,
)
from aging_model.prototypes.aging import AGING_PADDING
from preprocessing.alignment import padding_pixels

DETAIL_SIZE = 192  # held-out faces are served from crops of this size (UTKFace's faces are about 150 px wide)


@dataclass
class HeldOutFaces:
    """Aligned inputs (N, R, R, 3) uint8 with their labels, and real faces per group for realism."""

    crops: np.ndarray
    ages: np.ndarray
    genders: np.ndarray
    reference_crops: np.ndarray  # real faces (training split) ...
    reference_ages: np.ndarray  # ... and their ages
    # The same held-out faces aligned at DETAIL_SIZE with the aging padding around them (AGING_PADDING), for
    # serving; `detail_crops` without the padding are the inputs the served faces are compared with.
    padded_detail_crops: np.ndarray | None = None

    @property
    def detail_crops(self) -> np.ndarray | None:
        if self.padded_detail_crops is None:
            return None
        pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
        return self.padded_detail_crops[:, pad : pad + DETAIL_SIZE, pad : pad + DETAIL_SIZE]


def render_all_groups(model, crops: np.ndarray, genders: np.ndarray, batch: int = 32) -> np.ndarray:
    """(N, 10, R, R, 3): every face at every group centre, under its own gender label."""
    out = []
    for start in tqdm(range(0, len(crops), batch), desc="rendering", unit="batch", disable=len(crops) <= batch):
        out.append(
            model.age_faces(
                crops[start : start + batch], list(GROUP_CENTRES), genders[start : start + batch].astype(float).tolist()
            )
        )
    return np.concatenate(out)


def serve_with_prototypes(ager, landmarker, faces: HeldOutFaces, input_ages) -> np.ndarray:
    """What `faceage age` shows with its default renderer: each sharp crop aged by the prototypes from its
    estimated age to every group centre, as the pipeline does it (landmarks on the crop, padding around it);
    (N, 10, D, D, 3)."""
    pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
    jobs = list(zip(faces.padded_detail_crops, faces.detail_crops, faces.genders, input_ages))
    return np.stack(
        [
            ager.age(
                padded,
                landmarker.landmarks(crop) + pad,
                float(age),
                float(gender),
                GROUP_CENTRES,
                padding=AGING_PADDING,
            )
            for padded, crop, gender, age in tqdm(jobs, desc="serving", unit="face", disable=len(jobs) < 50)
        ]
    )


def real_readings(estimator, reference_crops: np.ndarray, reference_ages: np.ndarray) -> list[float | None]:
    """Per group, how the estimator reads real faces of that group (mean): the most an aged face can reach."""
    readings = estimator.estimate(reference_crops).ages
    groups = np.array([age_to_group(a) for a in reference_ages])
    return [float(readings[groups == g].mean()) if (groups == g).any() else None for g in range(N_AGE_GROUPS)]


def serve_like_the_pipeline(
    model, crops, genders, rendered, input_ages, rendering_weight: float | None = None
) -> np.ndarray:
    """What `faceage age --renderer caae` shows: the generator's change (target age minus the face's own
    estimated age, same latent) applied to the input crop itself, blended with the rendering; (N, 10, R, R, 3)."""
    from preprocessing.compositing import RENDERING_WEIGHT, transfer_aging

    weight = RENDERING_WEIGHT if rendering_weight is None else rendering_weight

    own = np.concatenate(
        [
            model.age_faces(
                crops[s : s + 64], [[a] for a in input_ages[s : s + 64]], genders[s : s + 64].astype(float).tolist()
            )
            for s in range(0, len(crops), 64)
        ]
    )[:, 0]
    return np.stack(
        [
            np.stack([transfer_aging(crop, aged, baseline, rendering_weight=weight) for aged in faces_rendered])
            for crop, faces_rendered, baseline in zip(crops, rendered, own)
        ]
    )


def group_mean_faces(reference_crops: np.ndarray, reference_ages: np.ndarray) -> np.ndarray:
    """(10, R, R, 3) the pixel mean of the real faces of each group: the 'age right, identity gone' baseline."""
    groups = np.array([age_to_group(a) for a in reference_ages])
    return np.stack(
        [
            reference_crops[groups == g].mean(0).round().astype(np.uint8)
            if (groups == g).any()
            else np.full(reference_crops.shape[1:], 128, np.uint8)
            for g in range(N_AGE_GROUPS)
        ]
    )


def evaluate(model, estimator, embedder, faces: HeldOutFaces, ager=None, landmarker=None) -> tuple[dict, dict]:
    """All measures for the model, both renderers as served and both baselines; returns (metrics, arrays for
    plots and sheets). Without an `ager` (or detail crops), "served" is the CAAE renderer alone."""
    n = len(faces.crops)
    own_groups = np.array([age_to_group(a) for a in faces.ages])
    rendered = render_all_groups(model, faces.crops, faces.genders)
    input_estimate = estimator.estimate(faces.crops).ages
    input_embeddings = embedder.embed_aligned(faces.crops)
    reference_features = estimator.features(faces.reference_crops)
    reference_groups = np.array([age_to_group(a) for a in faces.reference_ages])

    def judge(renderings: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
        """Age, identity and realism of (N, 10, R, R, 3) renderings; also their estimated ages and distances."""
        flat = renderings.reshape(-1, *renderings.shape[2:])
        estimated = estimator.estimate(flat).ages.reshape(n, N_AGE_GROUPS)
        embeddings = embedder.embed_aligned(flat).reshape(n, N_AGE_GROUPS, -1)
        distances = identity_distance(embeddings, input_embeddings[:, None, :])
        features = estimator.features(flat).reshape(n, N_AGE_GROUPS, -1)
        measured = {
            "age": age_metrics(estimated),
            "identity": identity_metrics(distances, own_groups),
            "realism": realism_metrics(features, reference_features, reference_groups),
        }
        return measured, estimated, distances

    model_metrics, estimated, distances = judge(rendered)
    served_caae = serve_like_the_pipeline(model, faces.crops, faces.genders, rendered, input_estimate)
    caae_metrics, _, _ = judge(served_caae)
    caae_metrics["detail_ratio"] = detail_ratio(faces.crops, served_caae)
    readings = real_readings(estimator, faces.reference_crops, faces.reference_ages)
    if ager is not None and faces.detail_crops is not None:
        served_inputs = faces.detail_crops
        served = serve_with_prototypes(ager, landmarker, faces, input_estimate)
        served_metrics, _, _ = judge(served)
        served_metrics["detail_ratio"] = detail_ratio(faces.detail_crops, served)
        served_metrics["renderer"] = "prototypes"
    else:
        served_inputs, served, served_metrics = faces.crops, served_caae, caae_metrics
    caae_metrics["renderer"] = "caae"

    mean_faces = group_mean_faces(faces.reference_crops, faces.reference_ages)
    mean_face_ages = estimator.estimate(mean_faces).ages
    mean_face_distances = identity_distance(
        embedder.embed_aligned(mean_faces)[None, :, :], input_embeddings[:, None, :]
    )
    baselines = {
        "input_itself": {
            "age": age_metrics(np.repeat(input_estimate[:, None], N_AGE_GROUPS, axis=1)),
            "identity": identity_metrics(np.zeros_like(distances), own_groups),
        },
        "group_mean_face": {
            "age": age_metrics(np.repeat(mean_face_ages[None, :], n, axis=0)),
            "identity": identity_metrics(mean_face_distances, own_groups),
        },
    }
    for baseline in baselines.values():
        for part in ("age", "identity"):
            baseline[part] = _summary(baseline[part])
    metrics = {
        "faces": n,
        "estimator_on_inputs_mae": float(np.abs(input_estimate - np.minimum(faces.ages, 100)).mean()),
        "model": model_metrics,
        "served": served_metrics,
        "served_caae": caae_metrics,
        "real_readings": readings,
        "baselines": baselines,
        "goals": model_goals(model_metrics),
        "goals_served": served_goals(served_metrics, readings),
        "goals_served_caae": served_goals(caae_metrics, readings),
    }
    arrays = {
        "rendered": rendered,
        "served": served,
        "served_inputs": served_inputs,
        "served_caae": served_caae,
        "estimated": estimated,
        "distances": distances,
        "inputs": faces.crops,
        "own_groups": own_groups,
        "input_estimate": input_estimate,
        "mean_face_ages": mean_face_ages,
        "mean_face_distances": mean_face_distances,
    }
    return metrics, arrays


def _summary(part: dict) -> dict:
    return {k: v for k, v in part.items() if k not in ("rank_correlations",)}


def load_held_out(
    data,
    cache_dir,
    resolution: int,
    limit: int | None = 200,
    reference_limit: int = 3000,
    validation_percent: int = 5,
    seed: int = 0,
) -> HeldOutFaces:
    """The first `limit` validation-split faces (by file name) and a fixed sample of training-split faces."""
    from aging_model.data import load_aligned_split

    train, val = load_aligned_split(data, None, cache_dir, resolution, validation_percent=validation_percent)
    if len(val) == 0:
        raise ValueError(f"no held-out faces in {data}: the validation split is empty")
    held = val.subset(list(range(min(limit or len(val), len(val)))))
    order = np.random.default_rng(seed).permutation(len(train))[:reference_limit]
    reference = train.subset(sorted(order.tolist()))
    nhwc = lambda images: images.permute(0, 2, 3, 1).numpy()  # noqa: E731
    return HeldOutFaces(
        crops=nhwc(held.images),
        ages=held.ages.numpy(),
        genders=held.genders.numpy(),
        reference_crops=nhwc(reference.images),
        reference_ages=reference.ages.numpy(),
        padded_detail_crops=_padded_detail_crops(data, cache_dir, held.names),
    )


def _padded_detail_crops(data, cache_dir, names: list[str]) -> np.ndarray:
    """The named chips aligned at DETAIL_SIZE as their model-size crops were (landmarks from the cache), with
    the aging padding around them."""

    from aging_model.data import _aligned_chip, chip_landmarks, index_folder
    from preprocessing.alignment import align_face

    by_name = {f.path.name: f for f in index_folder(Path(data)).faces}
    faces = [by_name[name] for name in names]
    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:8]
    landmarks = chip_landmarks(faces, Path(cache_dir) / f"landmarks-{key}.npz")
    counts: Counter = Counter()
    padded = functools.partial(align_face, padding=AGING_PADDING)
    pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
    crops = [_aligned_chip(f, landmarks.get(f.path.name), DETAIL_SIZE, counts, padded) for f in faces]
    # A chip without landmarks is used as it is (its own framing), so only its margin is made up.
    return np.stack(
        [
            crop
            if crop.shape[0] == DETAIL_SIZE + 2 * pad
            else cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            for crop in crops
        ]
    )
