"""Faces per second of curation's per-image pass on UTKFace chips (decoded beforehand, as the workers get them).

    uv run python scripts/curation_speed.py --faces 256 --rounds 3 --agreement 500

Three settings, alternated round by round so that all see the same machine load (the machine is shared):
- before: dlib's own ResNet embeds the faces (`aging_model.evaluation.identity.FaceEmbedder`), one process with a thread
  per core: `faceage dataset flag` as it was before issue 19 item 4;
- one process: the ResNet in PyTorch (`curation.embedder`), one process of one thread;
- N processes: the same, one process of one thread per core (`faceage dataset flag --local`, or
  `faceage worker --concurrency N`).
Each line gives the median (and the range) over the rounds, in faces per wall-clock second and per CPU second
(the second is steadier when other jobs share the machine; cores x it bounds what an idle machine does).
`--agreement N` then flags N other chips with the before and after models and counts the images whose flags
differ, and the largest embedding difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import multiprocessing

import numpy as np
import torch
from fairness_sample import DATASET, stratified_sample

from aging_model.data import read_rgb
from curation.analysis import CurationModels, ImageToAnalyse, analyse_images
from curation.labels import labels_from_name

BATCH = 32
_models: CurationModels | None = None


def _before_models() -> CurationModels:
    from aging_model.evaluation.identity import FaceEmbedder

    return replace(CurationModels.load(device="cpu"), embedder=FaceEmbedder())


def _start_process() -> None:
    global _models
    torch.set_num_threads(1)
    _models = CurationModels.load(device="cpu")


def _analyse(images: list[ImageToAnalyse]) -> float:
    """The CPU seconds this process spent on the batch."""
    began = time.process_time()
    analyse_images(images, _models)
    return time.process_time() - began


def _timed(run, images) -> tuple[float, float]:
    """Faces per wall-clock second of `run` over `images` in batches, and per CPU second (all its threads and
    processes: steadier than the wall clock on a machine shared with others)."""
    began = time.perf_counter()
    cpu = run([images[i : i + BATCH] for i in range(0, len(images), BATCH)])
    return len(images) / (time.perf_counter() - began), len(images) / cpu


def _in_process(models, threads: int):
    def run(batches):
        torch.set_num_threads(threads)
        began = time.process_time()
        for batch in batches:
            analyse_images(batch, models)
        return time.process_time() - began

    return run


def _summary(name: str, rates: list[tuple[float, float]]) -> str:
    wall, cpu = [r[0] for r in rates], [r[1] for r in rates]
    return (
        f"{name:<44}{statistics.median(wall):6.1f} faces/s (range {min(wall):.1f}-{max(wall):.1f}), "
        f"{statistics.median(cpu):5.1f} per CPU second"
    )


def _flag_names(analyses) -> list[set[str]]:
    return [{f.name for f in a.flags} for a in analyses]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--agreement", type=int, default=0, help="Also compare the flags of this many other chips.")
    args = parser.parse_args()
    per_race = (args.faces + args.agreement) // 5 + 1
    paths = stratified_sample(DATASET, per_race)
    timed_paths, other_paths = paths[: args.faces], paths[args.faces : args.faces + args.agreement]
    images = [ImageToAnalyse(read_rgb(p), labels_from_name(p.name)) for p in timed_paths]
    cores = os.cpu_count() or 1
    before, after = _before_models(), CurationModels.load(device="cpu")
    for models in (before, after):
        analyse_images(images[:8], models)  # warm up
    context = multiprocessing.get_context("spawn")
    rates: dict[str, list[tuple[float, float]]] = {}
    with ProcessPoolExecutor(args.jobs, context, initializer=_start_process) as pool:
        list(pool.map(_analyse, [images[:4]] * args.jobs * 2))  # load and warm up every process

        def in_pool(batches):
            return sum(pool.map(_analyse, batches))

        settings = {
            f"before: dlib, 1 process x {cores} threads": _in_process(before, cores),
            "after: PyTorch, 1 process x 1 thread": _in_process(after, 1),
            f"after: PyTorch, {args.jobs} processes x 1 thread": in_pool,
        }
        for round_ in range(args.rounds):
            for name, run in settings.items():
                rates.setdefault(name, []).append(_timed(run, images))
            print(f"round {round_ + 1}: " + ", ".join(f"{r[-1][0]:.1f}" for r in rates.values()), flush=True)
    print(f"{len(images)} UTKFace chips, batches of {BATCH}, {cores} cores, median of {args.rounds} rounds:")
    for name, values in rates.items():
        print(_summary(name, values))
    if other_paths:
        _agreement(other_paths, before, after)


def _agreement(paths, before: CurationModels, after: CurationModels) -> None:
    """How many images the before and after models flag differently, and how far their embeddings are."""
    images = [ImageToAnalyse(read_rgb(p), labels_from_name(p.name)) for p in paths]
    torch.set_num_threads(os.cpu_count() or 1)
    old, new = [], []
    for start in range(0, len(images), BATCH):
        old += analyse_images(images[start : start + BATCH], before)
        new += analyse_images(images[start : start + BATCH], after)
    same = sum(a == b for a, b in zip(_flag_names(old), _flag_names(new)))
    gaps = [
        float(np.linalg.norm(a.embedding - b.embedding))
        for a, b in zip(old, new)
        if a.embedding is not None and b.embedding is not None
    ]
    embedded_alike = sum((a.embedding is None) == (b.embedding is None) for a, b in zip(old, new))
    print(
        f"agreement on {len(images)} other chips: same flags on {same} ({same / len(images):.1%}); "
        f"embedded alike {embedded_alike}; largest embedding difference {max(gaps, default=0.0):.2e} "
        f"over {len(gaps)} faces (people are told apart at 0.6)"
    )


if __name__ == "__main__":
    main()
