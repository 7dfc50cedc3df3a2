"""How long the explorer's two endpoints take, through the web app itself (a benchmark, not a test).

    uv run python scripts/benchmark_explore.py [--runs 7]

Each measurement is a request through Flask's test client to a web app like the one `faceage serve` runs, so
validation, rendering, PNG encoding and the JSON all count; the network does not. Prints medians:
- the first explore request of a fresh web process (PyTorch and the models loaded then), in its own process;
- GET /api/v1/explore/face.png (one face, 256 px PNG), a different code each run;
- GET /api/v1/explore/sample?n=8 (8 faces drawn, rendered, judged by MTCNN and the estimator, ranked).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

_FIRST_REQUEST = """
import json, sys, tempfile, time
from service.app import create_app
from service.config import Settings
client = create_app(Settings(data_dir=tempfile.mkdtemp()), enqueue=lambda job_id: None).test_client()
rss = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
before = rss()
began = time.perf_counter()
assert client.get("/api/v1/explore/face.png?code=" + "8" * 50 + "&age=40&gender=female").status_code == 200
print(json.dumps({"seconds": time.perf_counter() - began, "rss_before_mb": before, "rss_after_mb": rss()}))
"""


def _first_request() -> dict:
    done = subprocess.run([sys.executable, "-c", _FIRST_REQUEST], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed(client, url: str) -> float:
    began = time.perf_counter()
    reply = client.get(url)
    elapsed = time.perf_counter() - began
    assert reply.status_code == 200, reply.get_json()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from aging_model.explore.latent import sample_codes
    from service.app import create_app
    from service.config import Settings

    first = [_first_request() for _ in range(max(1, args.runs // 2))]
    settings = Settings(data_dir=tempfile.mkdtemp(), rate_limit="100000/minute")
    client = create_app(settings, enqueue=lambda job_id: None).test_client()
    _timed(client, "/api/v1/explore/sample?n=8&seed=0")  # warm: models loaded, MTCNN's first call made
    codes = sample_codes(args.runs, seed=100)
    face = [_timed(client, f"/api/v1/explore/face.png?code={c}&age={30 + i}&gender=male") for i, c in enumerate(codes)]
    sample = [_timed(client, f"/api/v1/explore/sample?n=8&age=40&gender=female&seed={s}") for s in range(args.runs)]
    report = {
        "runs": args.runs,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),  # others' work on a shared machine shows here
        "first_request_s": round(statistics.median(r["seconds"] for r in first), 2),
        "web_process_rss_mb_before_after_first_request": [first[0]["rss_before_mb"], first[0]["rss_after_mb"]],
        "face_png_ms": round(1000 * statistics.median(face), 1),
        "sample_8_ms": round(1000 * statistics.median(sample), 1),
        "face_png_ms_all": [round(1000 * s, 1) for s in face],
        "sample_8_ms_all": [round(1000 * s, 1) for s in sample],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
