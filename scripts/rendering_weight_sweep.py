"""How the rendering weight trades identity for age movement, on held-out faces (an experiment, not a test).

    uv run python scripts/rendering_weight_sweep.py [--model PATH] [--limit 100] [--weights 0,0.3,0.5,0.7,1]

For each weight, the faces as served (see preprocessing.compositing.transfer_aging) are judged like
`faceage evaluate` does: the estimator's rank correlation between target and estimated age and the mean
estimated age per group, and dlib's same-person share at the face's own group and within two groups of it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aging_model.age_groups import N_AGE_GROUPS, age_to_group
from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel
from aging_model.estimator.age_gender import AgeGenderEstimator
from aging_model.evaluation.held_out import load_held_out, render_all_groups, serve_like_the_pipeline
from aging_model.evaluation.identity import FaceEmbedder, identity_distance
from aging_model.evaluation.metrics import age_metrics, identity_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--weights", default="0,0.3,0.5,0.7,1")
    args = parser.parse_args()
    model = AgingModel.load(args.model, device="cpu")
    estimator, embedder = AgeGenderEstimator.load(device="cpu"), FaceEmbedder()
    faces = load_held_out(args.data, ".cache", model.resolution, limit=args.limit)
    n, own_groups = len(faces.crops), np.array([age_to_group(a) for a in faces.ages])
    rendered = render_all_groups(model, faces.crops, faces.genders)
    input_ages = estimator.estimate(faces.crops).ages
    input_embeddings = embedder.embed_aligned(faces.crops)
    print(f"{n} held-out faces; model {args.model}")
    print(
        "weight | rank correlation | mean estimated age per group (0-5 ... 71+) | own group same person "
        "| ±2 groups same person"
    )
    for weight in (float(w) for w in args.weights.split(",")):
        served = serve_like_the_pipeline(
            model, faces.crops, faces.genders, rendered, input_ages, rendering_weight=weight
        )
        flat = served.reshape(-1, *served.shape[2:])
        age = age_metrics(estimator.estimate(flat).ages.reshape(n, N_AGE_GROUPS))
        distances = identity_distance(
            embedder.embed_aligned(flat).reshape(n, N_AGE_GROUPS, -1), input_embeddings[:, None, :]
        )
        identity = identity_metrics(distances, own_groups)
        means = " ".join(f"{g['mean_estimated_age']:.0f}" for g in age["per_group"])
        print(
            f"{weight:.1f} | {age['mean_rank_correlation']:.2f} | {means} | "
            f"{identity['reconstruction_same_person_share']:.2f} | {identity['two_groups_same_person_share']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
