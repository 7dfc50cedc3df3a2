"""The measures and goals of held-out evaluation: age readings against targets, identity distances, realism
(Fréchet distances) and kept detail, each from arrays; no model, no files.
"""

from __future__ import annotations

import cv2
import numpy as np

from aging_model.age_groups import GROUP_CENTRES, GROUP_LABELS, N_AGE_GROUPS, age_to_group
from aging_model.evaluation.identity import SAME_PERSON_DISTANCE

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


DETAIL_MEASURE_SIZE = 128


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


def detail_ratio(inputs: np.ndarray, outputs: np.ndarray) -> float:
    """Median over faces and ages of the fine detail an output keeps: the variance of the Laplacian of its
    inner face over the input's, both at DETAIL_MEASURE_SIZE px; (N, S, S, 3) inputs, (N, 10, S', S', 3)."""
    from preprocessing.quality import central_region

    def detail(image: np.ndarray) -> float:
        small = cv2.resize(image, (DETAIL_MEASURE_SIZE, DETAIL_MEASURE_SIZE), interpolation=cv2.INTER_AREA)
        return float(cv2.Laplacian(central_region(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)), cv2.CV_64F).var())

    ratios = [detail(out) / max(detail(inp), 1e-6) for inp, row in zip(inputs, outputs) for out in row]
    return float(np.median(ratios))


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


def model_goals(m: dict) -> dict:
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
