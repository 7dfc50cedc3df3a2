"""How the prototype renderer's strengths move held-out faces in age, identity and detail (a sweep, not a test).

    uv run python scripts/prototype_strength_sweep.py --limit 60 --setting default \\
        --setting "face value" "older=shape:1,colour:1,fine:1,medium:1,folds:1" \\
                               "younger=shape:1,colour:1,fine:1,medium:1,folds:1"

Each setting renders the first `--limit` validation faces (256 px crops, no margin) at the ten group centres
from their estimated age and prints: the mean estimated age per group, how adults aimed at 3 and 8 read, the
rank correlation, the same-person shares (own group, two groups away) and the fine detail kept. Real faces of
each group, read by the same estimator, are printed first: the ceiling.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np

from aging_model.age_groups import GROUP_CENTRES, age_to_group
from aging_model.data import chip_landmarks, index_folder, read_rgb, split_faces
from aging_model.estimator.age_gender import AgeGenderEstimator
from aging_model.evaluation.identity import SAME_PERSON_DISTANCE, FaceEmbedder, identity_distance
from aging_model.evaluation.metrics import detail_ratio, spearman
from aging_model.prototypes.age_prototypes import AgePrototypes
from aging_model.prototypes.aging import OLDER_STRENGTH, YOUNGER_STRENGTH, PrototypeAger
from preprocessing.alignment import align_face
from preprocessing.landmarks import DenseLandmarker

SIZE = 256


def parse_setting(parts: list[str]) -> tuple[str, dict]:
    """["name", "older=shape:2,colour:1.5", "younger=..."] -> (name, {"older": AgingStrength, ...})."""
    name, strengths = parts[0], {"older": OLDER_STRENGTH, "younger": YOUNGER_STRENGTH}
    for part in parts[1:]:
        direction, values = part.split("=", 1)
        changes = {k: float(v) for k, v in (item.split(":") for item in values.split(","))}
        strengths[direction] = dataclasses.replace(strengths[direction], **changes)
    return name, strengths


def held_out(data: Path, limit: int):
    _, validation = split_faces(index_folder(data).faces)
    key = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:8]
    landmarks = chip_landmarks(validation, Path(".cache") / f"landmarks-{key}.npz")
    usable = [f for f in validation if not np.isnan(landmarks[f.path.name]).any()]
    return usable, landmarks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument(
        "--setting",
        nargs="+",
        action="append",
        default=None,
        help="a name, then older=... and/or younger=... changes of the default strengths",
    )
    args = parser.parse_args()
    settings = [parse_setting(s) for s in (args.setting or [["default"]])]
    faces, landmarks = held_out(args.data, None)
    estimator, embedder, landmarker = AgeGenderEstimator.load(device="cpu"), FaceEmbedder(), DenseLandmarker()
    crops = np.stack([align_face(read_rgb(f.path), landmarks[f.path.name], SIZE).pixels for f in faces])
    groups = np.array([f.age_group for f in faces])
    real = estimator.estimate(crops).ages
    print("real faces read as:", [round(float(real[groups == g].mean()), 1) for g in range(10)])
    crops = crops[: args.limit]
    reading = estimator.estimate(crops)
    marks = [landmarker.landmarks(c) for c in crops]
    own = np.array([age_to_group(a) for a in reading.ages])
    inputs = embedder.embed_aligned(crops)
    prototypes = AgePrototypes.load()
    for name, strengths in settings:
        ager = PrototypeAger(prototypes, **strengths)
        out = np.stack(
            [
                ager.age(c, m, a, f, GROUP_CENTRES)
                for c, m, a, f in zip(crops, marks, reading.ages, reading.female_probability)
            ]
        )
        flat = out.reshape(-1, SIZE, SIZE, 3)
        ages = estimator.estimate(flat).ages.reshape(len(crops), 10)
        distances = identity_distance(embedder.embed_aligned(flat).reshape(len(crops), 10, -1), inputs[:, None])
        near = [distances[i, g] for i in range(len(crops)) for g in range(10) if 0 < abs(g - own[i]) <= 2]
        adults = reading.ages >= 20
        print(
            f"{name}: read as {np.round(ages.mean(0)).astype(int).tolist()}; adults aimed at 3 / 8 read "
            f"{ages[adults, 0].mean():.1f} / {ages[adults, 1].mean():.1f}; rank correlation "
            f"{np.mean([spearman(GROUP_CENTRES, r) for r in ages]):.3f}; same person "
            f"{(distances[np.arange(len(crops)), own] < SAME_PERSON_DISTANCE).mean():.0%} own, "
            f"{(np.array(near) < SAME_PERSON_DISTANCE).mean():.0%} ±2 groups; "
            f"detail kept {detail_ratio(crops, out):.2f}"
        )


if __name__ == "__main__":
    cv2.setNumThreads(2)
    main()
