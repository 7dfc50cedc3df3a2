"""Speed of the service on this machine, embedded default with one CPU worker (a benchmark, not a test).

    uv run python scripts/benchmark_service.py [--singles 10] [--batch 100] [--json out.json]

- upload-to-result latency of single photos (a 12-megapixel phone photo, 5 ages), median and p95: from the
  start of the POST to the moment the job reads `done`, polled every 50 ms;
- photos per minute for a batch (one zip of N different photos, 5 ages each), from the POST to the last item.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmark import phone_photo  # noqa: E402
from service.app import create_app  # noqa: E402
from service.auth import create_api_key  # noqa: E402
from service.config import Settings  # noqa: E402
from service.database import Database  # noqa: E402


def start_stack(data_dir: Path):
    env = {**os.environ, "FACEAGE_DATA_DIR": str(data_dir), "FACEAGE_DEVICE": "cpu", "FACEAGE_RATE_LIMIT": "100000/minute"}
    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    database.upgrade()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app:celery_app", "worker", "--queues", "faceage",
         "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", database, worker, server


def wait_done(url: str, headers: dict, poll: float = 0.05, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url, headers=headers, timeout=30).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(poll)
    raise TimeoutError(url)


def single_latencies(base: str, photo: bytes, runs: int) -> list[float]:
    times = []
    for i in range(runs + 1):  # the first run warms the worker's model up and is not counted
        began = time.perf_counter()
        reply = requests.post(f"{base}/api/v1/jobs", files={"photo": ("phone.jpg", photo)}, timeout=120).json()
        job = wait_done(base + reply["urls"]["self"], {"X-Job-Token": reply["token"]})
        assert job["status"] == "done", job
        if i:
            times.append(time.perf_counter() - began)
    return times


def batch_rate(base: str, key: str, count: int) -> float:
    from skimage import data

    face = data.astronaut()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            # every photo different (brightness, mirror), so none is recognised as a duplicate of another
            pixels = np.clip(face.astype(int) + (i % 50) - 25, 0, 255).astype(np.uint8)
            image = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(pixels if (i // 50) % 2 else pixels[:, ::-1])).save(image, "JPEG", quality=90)
            archive.writestr(f"photos/{i:03d}.jpg", image.getvalue())
    headers = {"Authorization": f"Bearer {key}"}
    began = time.perf_counter()
    reply = requests.post(f"{base}/api/v1/batches", files={"archive": ("photos.zip", buffer.getvalue())}, headers=headers, timeout=600)
    batch = reply.json()
    while batch["status"] != "done":
        time.sleep(0.5)
        batch = requests.get(base + batch["urls"]["self"], headers=headers, timeout=60).json()
    elapsed = time.perf_counter() - began
    assert batch["counts"]["done"] == count, batch["counts"]
    return count / elapsed * 60


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base, database, worker, server = start_stack(tmp / "data")
        try:
            photo = phone_photo(tmp / "phone.jpg", 12).read_bytes()
            times = single_latencies(base, photo, args.singles)
            rate = batch_rate(base, create_api_key(database, "benchmark"), args.batch)
        finally:
            server.shutdown()
            worker.terminate()
            worker.wait(timeout=60)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    report = {"single_12mp_latency_s": {"median": statistics.median(times), "p95": p95, "runs": len(times)},
              "batch_photos_per_minute": rate, "batch_size": args.batch, "workers": "1 CPU worker (embedded default)"}
    print(f"12 MP photo, upload to result (5 ages): median {report['single_12mp_latency_s']['median']:.2f} s, "
          f"p95 {p95:.2f} s over {len(times)} runs")
    print(f"batch of {args.batch} photos: {rate:.0f} photos per minute with one CPU worker")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
