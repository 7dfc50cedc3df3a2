"""Speed and memory of the aging pipeline on this machine (a benchmark, not a test).

    uv run python scripts/benchmark.py [--runs 7] [--json out.json]

Reports medians of several warm runs (the machine is shared and noisy):
- per-photo latency of a 12-megapixel JPEG with one face, stage by stage (load, detect, align, 10 ages, paste),
  with the default renderer (prototypes) and with the caae renderer, in the same process;
- faces per second for batches of aligned crops (encode + 10 ages);
- peak resident memory of a whole `faceage age` run on a 12 MP and a 50 MP photo (fresh processes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

TEN_AGES = [2.5, 8, 13, 18, 25.5, 35.5, 45.5, 55.5, 65.5, 78]


def phone_photo(path: Path, megapixels: float) -> Path:
    """A JPEG of the given size (4:3) with the astronaut's face large in it, as a phone would take it."""
    from skimage import data

    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    face = cv2.resize(data.astronaut(), (height, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((height, width, 3), 200, np.uint8)
    left = (width - height) // 2
    canvas[:, left : left + height] = face
    Image.fromarray(canvas).save(path, quality=90)
    return path


def stage_latencies(pipeline, photo: Path, runs: int) -> dict[str, float]:
    pipeline.run(photo, ages=TEN_AGES)  # warm-up: first calls allocate and pick kernels
    per_stage: dict[str, list[float]] = {}
    totals = []
    for _ in range(runs):
        began = time.perf_counter()
        result = pipeline.run(photo, ages=TEN_AGES)
        totals.append(time.perf_counter() - began)
        for stage, seconds in result.timings.items():
            per_stage.setdefault(stage, []).append(seconds)
    medians = {stage: statistics.median(values) for stage, values in per_stage.items()}
    medians["total"] = statistics.median(totals)
    return medians


def faces_per_second(model, runs: int) -> dict[int, float]:
    rates = {}
    rng = np.random.default_rng(0)
    for batch in (1, 8, 32):
        crops = rng.integers(0, 255, (batch, model.resolution, model.resolution, 3), dtype=np.uint8)
        model.age_faces(crops, TEN_AGES, [0.5] * batch)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            model.age_faces(crops, TEN_AGES, [0.5] * batch)
            times.append(time.perf_counter() - began)
        rates[batch] = batch / statistics.median(times)
    return rates


# VmHWM is this process's own high-water mark; ru_maxrss would also count the forked benchmark's memory,
# which Linux carries across exec.
_MEASURED_RUN = """
import sys
from faceage_cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    assert not done.code, done.code
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def peak_rss_mb(photo: Path, out: Path) -> float:
    """Peak RSS of a fresh process running `faceage age` on one photo, as that process reports it."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED_RUN, "age", str(photo), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from aging_model.caae.inference import AgingModel
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.pipeline import AgingPipeline, PipelineSettings

    model = AgingModel.load(device="cpu")
    # As `faceage age` runs it: the estimator reads each face's age and gender (the default --gender auto).
    estimator = AgeGenderEstimator.load(device="cpu")
    pipeline = AgingPipeline(model, estimator=estimator)
    caae = AgingPipeline(model, estimator=estimator, settings=PipelineSettings(renderer="caae"))
    report: dict = {"torch_threads": torch.get_num_threads(), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo_12 = phone_photo(tmp / "12mp.jpg", 12)
        report["latency_12mp_s"] = stage_latencies(pipeline, photo_12, args.runs)
        report["latency_12mp_s_caae_renderer"] = stage_latencies(caae, photo_12, args.runs)
        report["faces_per_second_10_ages"] = faces_per_second(model, args.runs)
        photo_50 = phone_photo(tmp / "50mp.jpg", 50)
        report["peak_rss_mb"] = {"12mp": peak_rss_mb(photo_12, tmp / "o12"), "50mp": peak_rss_mb(photo_50, tmp / "o50")}

    for name, key in (("prototypes", "latency_12mp_s"), ("caae", "latency_12mp_s_caae_renderer")):
        latency = report[key]
        print(
            f"12 MP photo, one face, 10 ages, {name} renderer: median {latency['total'] * 1000:.0f} ms "
            f"over {args.runs} warm runs"
        )
        for stage in ("load", "detect", "align", "age", "paste"):
            print(f"  {stage:<7}{latency[stage] * 1000:8.1f} ms")
    print("aligned crops, encode + 10 ages:")
    for batch, rate in report["faces_per_second_10_ages"].items():
        print(f"  batch {batch:>2}: {rate:7.1f} faces/s")
    print(
        f"peak RSS of `faceage age`: 12 MP {report['peak_rss_mb']['12mp']:.0f} MB, "
        f"50 MP {report['peak_rss_mb']['50mp']:.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
