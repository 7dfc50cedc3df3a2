"""Flag a stratified sample of UTKFace (equal faces per race label) and cache what the flags need.

    uv run python scripts/fairness_sample.py --per-race 250 --out /tmp/fairness-sample.npz

The cache holds, per face: its file name, labels, per-image flags (JSON), perceptual hash, dlib embedding and
estimated age, so the dataset-wide rules and the fairness report can be re-run in seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from aging_model.data import read_rgb
from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.labels import labels_from_name

DATASET = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "utkface"


def stratified_sample(folder: Path, per_race: int, seed: int = 0) -> list[Path]:
    """`per_race` files of each race label (0-4), chosen at random with a fixed seed; malformed names skipped."""
    by_race: dict[int, list[Path]] = {}
    for path in sorted(folder.glob("*.jpg")):
        labels = labels_from_name(path.name)
        if labels.race is not None and labels.age is not None and labels.gender is not None:
            by_race.setdefault(labels.race, []).append(path)
    rng = random.Random(seed)
    return [path for race in sorted(by_race) for path in rng.sample(by_race[race], min(per_race, len(by_race[race])))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--per-race", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not args.dataset.is_dir():
        sys.exit(f"UTKFace not found at {args.dataset}")
    paths = stratified_sample(args.dataset, args.per_race)
    models = CurationModels.load(device="cpu")
    rows, started = [], time.monotonic()
    for start in range(0, len(paths), args.batch):
        batch = paths[start : start + args.batch]
        images = [ImageToAnalyse(read_rgb(p), labels_from_name(p.name)) for p in batch]
        for path, image, analysis in zip(batch, images, analyse_images(images, models)):
            rows.append((path.name, image.labels, analysis))
        done = len(rows)
        print(f"{done}/{len(paths)} {done / (time.monotonic() - started):.1f} faces/s", file=sys.stderr, flush=True)
    np.savez(
        args.out,
        names=np.array([name for name, _, _ in rows]),
        age=np.array([labels.age for _, labels, _ in rows]),
        gender=np.array([labels.gender for _, labels, _ in rows]),
        race=np.array([labels.race for _, labels, _ in rows]),
        flags=np.array([json.dumps([[f.name, f.score] for f in a.flags]) for _, _, a in rows]),
        perceptual_hash=np.array([a.perceptual_hash for _, _, a in rows]),
        embedding=np.stack(
            [a.embedding if a.embedding is not None else np.full(128, np.nan, np.float32) for _, _, a in rows]
        ),
        estimated_age=np.array([a.measures.get("estimated_age", np.nan) for _, _, a in rows], dtype=float),
        seconds=time.monotonic() - started,
    )
    print(f"{len(rows)} faces in {time.monotonic() - started:.0f} s -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
