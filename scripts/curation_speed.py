"""Faces per second of curation's per-image pass on UTKFace chips (decoded beforehand, as the workers get them).

    uv run python scripts/curation_speed.py --faces 256

Runs the pass twice, alternating, so both readings see the same machine load: as shipped, and embedding every
face (as before issue 19, when children were embedded too although same_person never compares them).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fairness_sample import DATASET, stratified_sample

from aging_model.data import read_rgb
from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.flags import CurationThresholds
from curation.labels import labels_from_name


def faces_per_second(images, models, thresholds, batch: int = 32) -> str:
    """Per wall-clock second, and per CPU second of this process (steadier on a machine shared with others)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(images), batch):
        analyse_images(images[start : start + batch], models, thresholds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{len(images) / wall:.1f} faces/s ({len(images) / cpu:.1f} per CPU second)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    paths = stratified_sample(DATASET, args.faces // 5 + 1)[: args.faces]
    images = [ImageToAnalyse(read_rgb(p), labels_from_name(p.name)) for p in paths]
    models = CurationModels.load(device="cpu")
    analyse_images(images[:8], models)  # warm up
    shipped = CurationThresholds()
    embed_all = replace(shipped, same_person_min_age=-1.0)
    for _ in range(args.rounds):
        print(
            f"{len(images)} faces: {faces_per_second(images, models, shipped)} as shipped, "
            f"{faces_per_second(images, models, embed_all)} embedding every face",
            flush=True,
        )


if __name__ == "__main__":
    main()
