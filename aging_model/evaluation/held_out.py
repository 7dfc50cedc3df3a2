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

from aging_model.age_groups import GROUP_CENTRES, GROUP_LABELS, N_AGE_GROUPS, age_to_group
from aging_model.evaluation.identity import SAME_PERSON_DISTANCE, identity_distance
from aging_model.prototypes.aging import AGING_PADDING
from preprocessing.alignment import padding_pixels

ADULT_GROUPS = range(4, 9)  # 21-30 .. 61-70: where "within 8 years of the centre" is asked
GOALS = {
    "mean_rank_correlation": 0.9,
    "adult_group_mean_age_within_years": 8.0,
    "reconstruction_same_person_share": 0.8,
    "two_groups_same_person_share": 0.6,
}
# What a served face must reach (issue 9): read like real faces of its target age, stay the person, stay sharp.
SERVED_ADULT_GROUPS = range(4, 10)  # 21-30 .. 71+
SERVED_GOALS = {
    "adult_within_years_of_real": 6.0,
    "child_reading_at_most": {0: 12.0, 1: 15.0},  # target 3 (0-5) and target 8 (6-10), in years
    "mean_rank_correlation": 0.93,
    "reconstruction_same_person_share": 0.9,
    "two_groups_same_person_share": 0.75,
    "detail_ratio": 0.8,
}
DETAIL_SIZE = 192  # held-out faces are served from crops of this size (UTKFace's faces are about 150 px wide)
DETAIL_MEASURE_SIZE = 128


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


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two 1-d arrays; 0 when either is constant (nothing moves)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    rx, ry = np.argsort(np.argsort(x)).astype(float), np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (as FID, on our own features)."""
    import warnings

    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    # With fewer faces than feature dimensions the covariances are singular; a tiny ridge keeps the square
    # root stable without moving the distance measurably.
    ridge = np.eye(a.shape[1]) * 1e-6
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


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


def detail_ratio(inputs: np.ndarray, outputs: np.ndarray) -> float:
    """Median over faces and ages of the fine detail an output keeps: the variance of the Laplacian of its
    inner face over the input's, both at DETAIL_MEASURE_SIZE px; (N, S, S, 3) inputs, (N, 10, S', S', 3)."""
    from preprocessing.quality import central_region

    def detail(image: np.ndarray) -> float:
        small = cv2.resize(image, (DETAIL_MEASURE_SIZE, DETAIL_MEASURE_SIZE), interpolation=cv2.INTER_AREA)
        return float(cv2.Laplacian(central_region(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)), cv2.CV_64F).var())

    ratios = [detail(out) / max(detail(inp), 1e-6) for inp, row in zip(inputs, outputs) for out in row]
    return float(np.median(ratios))


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


def age_metrics(estimated: np.ndarray) -> dict:
    """From estimated ages (N, 10) of outputs rendered at the ten groups."""
    per_group = []
    for g in range(N_AGE_GROUPS):
        values = estimated[:, g]
        groups = np.array([age_to_group(a) for a in values])
        per_group.append(
            {
                "group": GROUP_LABELS[g],
                "target_age": float(GROUP_CENTRES[g]),
                "mean_estimated_age": float(values.mean()),
                "std_estimated_age": float(values.std()),
                "share_in_target_group": float((groups == g).mean()),
            }
        )
    means = np.array([p["mean_estimated_age"] for p in per_group])
    correlations = np.array([spearman(GROUP_CENTRES, row) for row in estimated])
    adult_errors = {GROUP_LABELS[g]: float(abs(means[g] - GROUP_CENTRES[g])) for g in ADULT_GROUPS}
    return {
        "per_group": per_group,
        "mean_rank_correlation": float(correlations.mean()),
        "rank_correlations": correlations.tolist(),
        "monotonic": bool(np.all(np.diff(means) > 0)),
        "adult_group_error_years": adult_errors,
        "max_adult_group_error_years": max(adult_errors.values()),
        "mean_share_in_target_group": float(np.mean([p["share_in_target_group"] for p in per_group])),
    }


def identity_metrics(distances: np.ndarray, own_groups: np.ndarray) -> dict:
    """From identity distances (N, 10) between each input and its outputs at the ten groups."""
    n = len(distances)
    per_group = [
        {
            "group": GROUP_LABELS[g],
            "mean_distance": float(distances[:, g].mean()),
            "same_person_share": float((distances[:, g] < SAME_PERSON_DISTANCE).mean()),
        }
        for g in range(N_AGE_GROUPS)
    ]
    own = distances[np.arange(n), own_groups]
    near = [distances[i, g] for i in range(n) for g in range(N_AGE_GROUPS) if 0 < abs(g - own_groups[i]) <= 2]
    return {
        "per_group": per_group,
        "reconstruction_mean_distance": float(own.mean()),
        "reconstruction_same_person_share": float((own < SAME_PERSON_DISTANCE).mean()),
        "two_groups_same_person_share": float((np.array(near) < SAME_PERSON_DISTANCE).mean()) if near else float("nan"),
        "all_groups_same_person_share": float((distances < SAME_PERSON_DISTANCE).mean()),
    }


def realism_metrics(
    generated_features: np.ndarray, reference_features: np.ndarray, reference_groups: np.ndarray, seed: int = 0
) -> dict:
    """Fréchet distances per group: generated (N, 10, F) against real faces of that group, and the floor."""
    rng = np.random.default_rng(seed)
    per_group = []
    n = generated_features.shape[0]
    for g in range(N_AGE_GROUPS):
        real = reference_features[reference_groups == g]
        if len(real) < 2 * min(n, 20):
            per_group.append({"group": GROUP_LABELS[g], "frechet": None, "real_vs_real": None, "real_faces": len(real)})
            continue
        size = min(n, len(real) // 2)
        order = rng.permutation(len(real))
        first, second = real[order[:size]], real[order[size : 2 * size]]
        per_group.append(
            {
                "group": GROUP_LABELS[g],
                "real_faces": len(real),
                "compared": int(size),
                "frechet": frechet_distance(generated_features[:size, g], second),
                "real_vs_real": frechet_distance(first, second),
            }
        )
    measured = [p for p in per_group if p["frechet"] is not None]
    return {
        "per_group": per_group,
        "mean_frechet": float(np.mean([p["frechet"] for p in measured])) if measured else None,
        "mean_real_vs_real": float(np.mean([p["real_vs_real"] for p in measured])) if measured else None,
    }


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
        "goals": _goals(model_metrics),
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


def _goals(m: dict) -> dict:
    age, identity = m["age"], m["identity"]
    checks = {
        "mean rank correlation >= 0.9": age["mean_rank_correlation"] >= GOALS["mean_rank_correlation"],
        "mean estimated age rises monotonically": age["monotonic"],
        "adult groups within 8 years of their centre": age["max_adult_group_error_years"]
        <= GOALS["adult_group_mean_age_within_years"],
        "reconstruction same person for >= 80%": identity["reconstruction_same_person_share"]
        >= GOALS["reconstruction_same_person_share"],
        "+/- two groups same person for >= 60%": identity["two_groups_same_person_share"]
        >= GOALS["two_groups_same_person_share"],
    }
    return {name: bool(passed) for name, passed in checks.items()}


def served_goals(m: dict, readings: list[float | None]) -> dict:
    """The served goals (SERVED_GOALS) met by one renderer's measures, given real faces' readings per group."""
    means = [g["mean_estimated_age"] for g in m["age"]["per_group"]]
    g = SERVED_GOALS
    adult_ok = all(
        readings[k] is None or abs(means[k] - readings[k]) <= g["adult_within_years_of_real"]
        for k in SERVED_ADULT_GROUPS
    )
    checks = {
        "adult targets read within 6 years of real faces of that age": adult_ok,
        "target 3 reads <= 12 and target 8 <= 15": all(
            means[k] <= limit for k, limit in g["child_reading_at_most"].items()
        ),
        "mean rank correlation >= 0.93": m["age"]["mean_rank_correlation"] >= g["mean_rank_correlation"],
        "own age same person for >= 90%": m["identity"]["reconstruction_same_person_share"]
        >= g["reconstruction_same_person_share"],
        "+/- two groups same person for >= 75%": m["identity"]["two_groups_same_person_share"]
        >= g["two_groups_same_person_share"],
        "keeps >= 80% of the input's fine detail": m.get("detail_ratio", 0.0) >= g["detail_ratio"],
    }
    return {name: bool(passed) for name, passed in checks.items()}


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
