"""Throughput on an accelerator (or this CPU), one prepared command for a lent GPU (a benchmark, not a test).

    uv run python scripts/benchmark_gpu.py [--device cuda] [--json out.json] [--quick]

- the CAAE at its served resolution: aligned crops, encode + 10 ages, faces per second at batch 1 ... 1024;
- the prototype renderer (the default): aligned 512 px faces aged to 10 ages, faces per second (NumPy and
  OpenCV on the CPU whatever the device: a GPU does not speed it up);
- the workers' cross-job batching: 16 photos aged one job per model call (batch 1) against 8 jobs per call,
  photos per second, with each renderer.
Medians of several runs. `--quick` runs small sizes (for the test that keeps this script working on a CPU).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEN_AGES = (2.5, 8, 13, 18, 25.5, 35.5, 45.5, 55.5, 65.5, 78)


def _median_seconds(work, runs: int, sync) -> float:
    work()  # warm-up: kernels chosen, memory allocated
    sync()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        sync()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def caae_rates(model, batches, runs, sync) -> dict[int, float]:
    rng = np.random.default_rng(0)
    rates = {}
    for batch in batches:
        crops = rng.integers(0, 255, (batch, model.resolution, model.resolution, 3), dtype=np.uint8)
        seconds = _median_seconds(functools.partial(model.age_faces, crops, list(TEN_AGES), [0.5] * batch), runs, sync)
        rates[batch] = batch / seconds
    return rates


def prototype_rate(faces: int, runs: int) -> float:
    from PIL import Image
    from skimage import data

    from aging_model.caae.inference import AgingModel
    from aging_model.pipeline import AgingPipeline
    from aging_model.prototypes.aging import AGING_PADDING
    from preprocessing.alignment import padding_pixels

    pipeline = AgingPipeline(AgingModel.load(device="cpu"))
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, "PNG")
    face = pipeline.run(photo.getvalue(), ages=[40.0]).faces[0]  # one real face, aligned as served
    landmarks = pipeline.landmarker.landmarks(face.detail) + padding_pixels(face.detail.shape[0], AGING_PADDING)

    def work():
        for _ in range(faces):
            pipeline.renderer.ager.age(face.padded_detail, landmarks, 35.0, 0.9, TEN_AGES, padding=AGING_PADDING)

    return faces / _median_seconds(work, runs, lambda: None)


def batching_rates(model, estimator, renderer: str, photos: int, runs: int, sync) -> dict[int, float]:
    from PIL import Image
    from skimage import data

    from aging_model.pipeline import AgingPipeline, PhotoRequest, PipelineSettings

    pipeline = AgingPipeline(model, estimator=estimator, settings=PipelineSettings(renderer=renderer))
    face = data.astronaut()
    requests = []
    for i in range(photos):  # different photos: brightness varies
        buffer = io.BytesIO()
        Image.fromarray(np.clip(face.astype(int) + i - photos // 2, 0, 255).astype(np.uint8)).save(buffer, "JPEG")
        requests.append(PhotoRequest(buffer.getvalue(), TEN_AGES, "auto"))
    rates = {}
    for per_call in (1, 8):
        calls = [requests[start : start + per_call] for start in range(0, photos, per_call)]
        rates[per_call] = photos / _median_seconds(
            lambda calls=calls: [pipeline.run_many(c) for c in calls], runs, sync
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from aging_model.caae.inference import AgingModel
    from aging_model.estimator.age_gender import AgeGenderEstimator

    model = AgingModel.load(device=args.device)
    estimator = AgeGenderEstimator.load(device=str(model.device))
    cuda = model.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    runs = 1 if args.quick else args.runs
    batches = (1, 8) if args.quick else (1, 8, 64, 256, 1024)
    report = {
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "caae_faces_per_second_10_ages": caae_rates(model, batches, runs, sync),
        "prototype_faces_per_second_10_ages": prototype_rate(1 if args.quick else 8, runs),
        "photos_per_second_by_jobs_per_call": {
            renderer: batching_rates(model, estimator, renderer, 8 if args.quick else 16, runs, sync)
            for renderer in ("caae", "prototypes")
        },
    }
    print(f"device: {report['device']}")
    for batch, rate in report["caae_faces_per_second_10_ages"].items():
        print(f"CAAE, aligned 64 px crops, encode + 10 ages, batch {batch:>4}: {rate:9.1f} faces/s")
    print(
        f"prototype renderer, 512 px faces x 10 ages: {report['prototype_faces_per_second_10_ages']:.1f} faces/s (CPU)"
    )
    for renderer, rates in report["photos_per_second_by_jobs_per_call"].items():
        print(
            f"whole photos, {renderer} renderer: {rates[1]:.2f} photos/s one job per call, "
            f"{rates[8]:.2f} with 8 jobs per call ({rates[8] / rates[1]:.2f}x)"
        )
    out = args.json or (Path(os.environ["OUT"]) / "benchmark_gpu.json" if os.environ.get("OUT") else None)
    if out:
        out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
