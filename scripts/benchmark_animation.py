"""How long the moving pictures take on this machine (a benchmark, not a test): medians of several warm runs.

    uv run python scripts/benchmark_animation.py [--runs 3]

- a lifespan (41 ages) of the 512 px astronaut portrait and of a 12 MP phone photo: aging every frame, then
  encoding each face's MP4 and GIF and the photo's MP4;
- a morph of the astronaut into Barack Obama's portrait at 40: both aged, 41 frames, MP4, GIF and strip.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_s(work, runs: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from aging_model.caae.inference import AgingModel
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.media.animation import lifespan_ages
    from aging_model.media.morph import faces_to_morph, morph_outputs
    from aging_model.outputs import render_photo_result
    from aging_model.pipeline import AgingPipeline
    from scripts.benchmark import phone_photo

    model = AgingModel.load(device="cpu")
    pipeline = AgingPipeline(model, estimator=AgeGenderEstimator.load(device="cpu"))
    portrait = (ROOT / "docs" / "astronaut.jpg").read_bytes()
    obama = (ROOT / "docs" / "obama.jpg").read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        phone = phone_photo(Path(folder) / "phone.jpg", 12).read_bytes()

    def lifespan_of(photo: bytes):
        def work():
            stills = pipeline.run(photo, ages=[40.0])
            lifespan = pipeline.run(photo, ages=lifespan_ages())
            render_photo_result(stills, "photo", model.card, lifespan=lifespan)

        return work

    def morph():
        morph_outputs(*faces_to_morph(pipeline, portrait, obama, 40.0), 40.0)

    for name, work in (
        ("lifespan, 512 px portrait", lifespan_of(portrait)),
        ("lifespan, 12 MP photo", lifespan_of(phone)),
        ("morph, two portraits at 40", morph),
    ):
        print(f"{name}: median {_median_s(work, args.runs):.2f} s over {args.runs} warm runs")


if __name__ == "__main__":
    main()
