"""Stills first, film after (issue 18): how long after the upload the stills and the film appear (a benchmark, not a
test).

    uv run python scripts/benchmark_film.py [--runs 3] [--concurrency 1] [--json docs/benchmark-film.json]

A real worker on the embedded stack (SQLite database and broker, as `faceage serve`), the clock started once it is
ready. For each portrait (the 512 px astronaut of docs/astronaut.jpg; the same upscaled to 1224x1632, 2.0 MP, and to
1638x2048, 3.4 MP, the size of the issue's example), with the default five ages:
- with the film (animate=true): from the start of the POST to the job reading `done` (the stills are out) and to
  its `film.state` reading `done` (the film is out), polled every 20 ms;
- without the film: upload to `done`, for comparison;
- the pipeline's own time for the stills (the job's `timings_s`), so that the stills' overhead can be read.
Medians of `--runs` runs (with and without the film in turn), each after the previous film is finished (one job at a
time). The machine's load average is
recorded before and after: on a shared machine the numbers are only as good as it was quiet.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmark_service import start_stack

ROOT = Path(__file__).resolve().parents[1]


def portrait(width: int, height: int) -> bytes:
    """docs/astronaut.jpg (a real portrait, 512 px) enlarged to cover width x height and cropped to it, as a JPEG."""
    pixels = np.asarray(Image.open(ROOT / "docs" / "astronaut.jpg").convert("RGB"))
    if (width, height) != (512, 512):
        side = max(width, height)
        pixels = cv2.resize(pixels, (side, side), interpolation=cv2.INTER_CUBIC)
        left, top = (side - width) // 2, (side - height) // 2
        pixels = pixels[top : top + height, left : left + width]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def one_job(session: requests.Session, base: str, photo: bytes, animate: bool) -> dict:
    """Seconds from the start of the POST to the stills and (with the film) to the film; the pipeline's own time."""
    began = time.perf_counter()
    reply = session.post(
        f"{base}/api/v1/jobs",
        files={"photo": ("photo.jpg", photo)},
        data={"animate": "true" if animate else "false"},
        timeout=120,
    ).json()
    url, headers = base + reply["urls"]["self"], {"X-Job-Token": reply["token"]}
    stills_s = film_s = None
    progress_seen = []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        job = session.get(url, headers=headers, timeout=30).json()
        now = time.perf_counter() - began
        assert job["status"] != "failed", job
        if stills_s is None and job["status"] == "done":
            stills_s, stills_job = now, job
            if not animate:
                break
        if animate and job["film"]["state"] == "running":
            progress_seen.append(job["film"]["progress"])
        if animate and job["film"]["state"] in ("done", "failed"):
            assert job["film"]["state"] == "done", job
            film_s = now
            break
        time.sleep(0.02)
    assert stills_s is not None and (film_s is not None or not animate), "the job did not finish"
    return {
        "stills_s": stills_s,
        "film_s": film_s,
        "pipeline_s": sum(stills_job["timings_s"].values()),
        "film_progress_steps": len(set(progress_seen)),
    }


def measure(session, base: str, photo: bytes, runs: int) -> dict:
    with_film, without = [], []
    for _ in range(runs):  # in turn, so that a change in the machine's load falls on both alike
        with_film.append(one_job(session, base, photo, animate=True))
        without.append(one_job(session, base, photo, animate=False))

    def median(rows, key):
        return round(statistics.median(r[key] for r in rows), 3)

    return {
        "runs": runs,
        "with_film": {
            "upload_to_stills_s": median(with_film, "stills_s"),
            "upload_to_film_s": median(with_film, "film_s"),
            "stills_pipeline_s": median(with_film, "pipeline_s"),
            "stills_overhead_s": round(statistics.median(r["stills_s"] - r["pipeline_s"] for r in with_film), 3),
            "film_progress_steps_seen": median(with_film, "film_progress_steps"),
        },
        "without_film": {
            "upload_to_stills_s": median(without, "stills_s"),
            "stills_pipeline_s": median(without, "pipeline_s"),
            "stills_overhead_s": round(statistics.median(r["stills_s"] - r["pipeline_s"] for r in without), 3),
        },
        "raw": {"with_film": with_film, "without_film": without},
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    photos = {"portrait_512px": (512, 512), "portrait_2mp_1224x1632": (1224, 1632), "portrait_1638x2048": (1638, 2048)}
    session = requests.Session()
    report = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "concurrency": args.concurrency,
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        base, database, worker, server = start_stack(Path(tmp) / "data", {}, args.concurrency)
        try:
            one_job(session, base, portrait(512, 512), animate=True)  # warm-up: the film's encoders start
            for name, (width, height) in photos.items():
                report[name] = measure(session, base, portrait(width, height), args.runs)
                print(name, json.dumps({k: v for k, v in report[name].items() if k != "raw"}), flush=True)
        finally:
            server.shutdown()
            worker.terminate()
            worker.wait(timeout=60)
            database.dispose()
    report["load_average_after"] = os.getloadavg()
    print(f"{report['machine']}; load average before {report['load_average_before']}, after {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
