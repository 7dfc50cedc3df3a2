"""`same_person` per race label on a cached stratified sample, before (one global distance) and after (relative).

    uv run python scripts/fairness_sample.py --per-race 250 --out /tmp/sample.npz     # once, ~5 min
    uv run python scripts/same_person_fairness.py /tmp/sample.npz --sheets /tmp/sheets

Prints the share of faces flagged per race label under both rules and writes contact sheets (PNG) of flagged
pairs to judge precision by eye: the 30 highest-scoring pairs, and up to 30 random flagged pairs per race
label (a pair counts for a label when either face carries it).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from curation.duplicates import ImageFeatures, group_flags, near_duplicate_pairs
from curation.fairness import RACE_LABELS
from curation.flags import CurationThresholds

OLD_DISTANCE = 0.45  # the global threshold before issue 19
FACE = 100  # px per face on a sheet
PER_SHEET = 30


def load_features(cache: Path) -> tuple[list[ImageFeatures], dict]:
    data = np.load(cache)
    features = [
        ImageFeatures(
            key=i,
            perceptual_hash=str(data["perceptual_hash"][i]),
            embedding=None if np.isnan(data["embedding"][i, 0]) else data["embedding"][i],
            estimated_age=None if np.isnan(data["estimated_age"][i]) else float(data["estimated_age"][i]),
        )
        for i in range(len(data["names"]))
    ]
    return features, {k: data[k] for k in ("names", "race", "age", "gender")}


def old_rule_pairs(features: list[ImageFeatures], thresholds: CurationThresholds) -> list[tuple[int, int, float]]:
    """Pairs under the global distance, as flagged before (near duplicates and children left out)."""
    near = {(a, b) for a, b, _ in near_duplicate_pairs(features, thresholds.near_duplicate_bits)}
    adults = [f for f in features if f.embedding is not None and f.estimated_age >= thresholds.same_person_min_age]
    vectors = np.stack([f.embedding for f in adults])
    # |a - b|² = |a|² + |b|² - 2 a·b: one n x n matrix (the differences of every pair, n x n x 128, took 17 GB
    # at 4,135 faces and were killed for memory).
    squares = (vectors * vectors).sum(axis=1)
    distances = np.sqrt(np.maximum(squares[:, None] + squares[None] - 2.0 * vectors @ vectors.T, 0.0))
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(distances < OLD_DISTANCE, 1))):
        if (adults[i].key, adults[j].key) not in near:
            pairs.append((adults[i].key, adults[j].key, OLD_DISTANCE / max(float(distances[i, j]), 1e-3)))
    return pairs


def new_rule_pairs(features: list[ImageFeatures], thresholds: CurationThresholds) -> list[tuple[int, int, float]]:
    """(key, key, score) of every pair the current same_person flag names, each pair once."""
    found = group_flags(features, thresholds)
    pairs = {}
    for key, flags in found.items():
        for f in flags:
            if f.name == "same_person":
                for other, ratio in zip(f.details["images"], f.details["relative_distance"]):
                    pairs[tuple(sorted((key, other)))] = thresholds.same_person_ratio / max(ratio, 1e-3)
    return [(a, b, score) for (a, b), score in pairs.items()]


def rates_by_race(pairs, labels) -> dict[str, tuple[int, int]]:
    flagged = {k for a, b, _ in pairs for k in (a, b)}
    out = {}
    for race, name in RACE_LABELS.items():
        members = np.nonzero(labels["race"] == race)[0]
        out[name] = (sum(int(k) in flagged for k in members), len(members))
    out["all"] = (len(flagged), len(labels["race"]))
    return out


def pair_sheet(pairs, labels, dataset: Path, title: str) -> Image.Image:
    columns = 5
    rows = -(-len(pairs) // columns) or 1
    cell_w, cell_h = 2 * FACE + 10, FACE + 28
    sheet = Image.new("RGB", (columns * cell_w, 24 + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title, fill="black")
    for n, (a, b, score) in enumerate(pairs):
        x, y = (n % columns) * cell_w, 24 + (n // columns) * cell_h
        for offset, key in ((0, a), (FACE, b)):
            with Image.open(dataset / str(labels["names"][key])) as image:
                sheet.paste(image.convert("RGB").resize((FACE, FACE)), (x + offset, y))
        caption = f"#{n + 1} s{score:.2f} {_label(labels, a)} | {_label(labels, b)}"
        draw.text((x + 2, y + FACE + 2), caption, fill="black")
    return sheet


def _label(labels, key) -> str:
    return f"{labels['age'][key]}{'mf'[labels['gender'][key]]}{RACE_LABELS[int(labels['race'][key])][:2]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/utkface")
    parser.add_argument("--sheets", type=Path, default=None)
    args = parser.parse_args()
    thresholds = CurationThresholds()
    features, labels = load_features(args.cache)
    rules = {"before": old_rule_pairs(features, thresholds), "after": new_rule_pairs(features, thresholds)}
    for rule, pairs in rules.items():
        rates = rates_by_race(pairs, labels)
        cells = "  ".join(f"{name} {k}/{n} {100 * k / n:.1f} %" for name, (k, n) in rates.items())
        print(f"{rule:>6} ({len(pairs)} pairs): {cells}")
    if args.sheets is None:
        return
    args.sheets.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for rule, pairs in rules.items():
        top = sorted(pairs, key=lambda p: -p[2])[:PER_SHEET]
        pair_sheet(top, labels, args.dataset, f"{rule}: top {len(top)} of {len(pairs)} pairs").save(
            args.sheets / f"{rule}-top.png"
        )
        for race, name in RACE_LABELS.items():
            mine = [p for p in pairs if race in (labels["race"][p[0]], labels["race"][p[1]])]
            chosen = sorted(rng.sample(mine, min(PER_SHEET, len(mine))), key=lambda p: -p[2])
            title = f"{rule}: {len(chosen)} random of {len(mine)} pairs with a face labelled {name}"
            pair_sheet(chosen, labels, args.dataset, title).save(args.sheets / f"{rule}-random-{name}.png")
    print(f"sheets in {args.sheets}")


if __name__ == "__main__":
    main()
