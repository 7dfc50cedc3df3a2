"""Speed of the service on this machine, with one CPU worker (a benchmark, not a test).

    uv run python scripts/benchmark_service.py [--stack embedded|production] [--concurrency 2]
        [--singles 10] [--batch 100] [--json out.json]

The worker is started as `faceage serve` starts it, and the clock starts once it says it is ready.
- first job and single-photo latency (a 512 px portrait and a 12 MP phone photo, 5 ages): from the start of
  the POST to the moment the job reads `done`, polled every 20 ms, against the pipeline's own time for that
  job (its `timings_s`: load, detect, align, age, paste), so the difference is what the service adds;
- photos per minute for a batch (one zip of N different 512 px photos, 5 ages each), from the POST to the last
  item, against the rate the pipeline's own times allow.
`--stack production` uses PostgreSQL (127.0.0.1:5432, a fresh database) and Redis (127.0.0.1:6379/12).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faceage_cli.serving import worker_argv
from scripts.benchmark import phone_photo
from service import workers
from service.app import create_app
from service.auth import create_api_key
from service.config import Settings
from service.database import Database
from service.models import Job

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/12"


def production_urls() -> tuple[dict, callable]:
    import psycopg
    import redis

    name = f"faceage_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    redis.Redis.from_url(REDIS_URL).flushdb()

    def drop():
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        redis.Redis.from_url(REDIS_URL).flushdb()

    env = {
        "FACEAGE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "FACEAGE_BROKER_URL": REDIS_URL,
    }
    return env, drop


def start_stack(data_dir: Path, extra_env: dict, concurrency: int = 1):
    env = {
        **os.environ,
        "FACEAGE_DATA_DIR": str(data_dir),
        "FACEAGE_DEVICE": "cpu",
        "FACEAGE_RATE_LIMIT": "100000/minute",
        **extra_env,
    }
    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    database.upgrade()
    started = datetime.now(UTC)
    worker = subprocess.Popen(
        [sys.executable, *worker_argv(settings, concurrency=concurrency, beat=False)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not workers.ready_since(database, started):
        assert worker.poll() is None, "the worker exited"
        time.sleep(0.1)
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", database, worker, server


def wait_done(session: requests.Session, url: str, headers: dict, poll: float = 0.02, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = session.get(url, headers=headers, timeout=30).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(poll)
    raise TimeoutError(url)


def one_job(session: requests.Session, base: str, photo: bytes, ages: str = "5,20,40,60,80") -> tuple[float, float]:
    """(upload to done, the pipeline's own time) in seconds."""
    began = time.perf_counter()
    reply = session.post(
        f"{base}/api/v1/jobs", files={"photo": ("photo.jpg", photo)}, data={"ages": ages}, timeout=120
    ).json()
    job = wait_done(session, base + reply["urls"]["self"], {"X-Job-Token": reply["token"]})
    elapsed = time.perf_counter() - began
    assert job["status"] == "done", job
    return elapsed, sum(job["timings_s"].values())


def singles(session, base: str, photo: bytes, runs: int) -> dict:
    pairs = [one_job(session, base, photo) for _ in range(runs)]
    latency = statistics.median(p[0] for p in pairs)
    pipeline = statistics.median(p[1] for p in pairs)
    overhead = statistics.median(p[0] - p[1] for p in pairs)
    return {"latency_s": latency, "pipeline_s": pipeline, "overhead_s": overhead, "runs": runs}


def portrait_jpeg(index: int = 0) -> bytes:
    from skimage import data

    pixels = np.clip(data.astronaut().astype(int) + (index % 50) - 25, 0, 255).astype(np.uint8)
    if (index // 50) % 2:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def batch(session, base: str, database: Database, key: str, count: int) -> dict:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):  # every photo different (brightness, mirror): none is a duplicate of another
            archive.writestr(f"photos/{i:03d}.jpg", portrait_jpeg(i))
    headers = {"Authorization": f"Bearer {key}"}
    began = time.perf_counter()
    reply = session.post(
        f"{base}/api/v1/batches", files={"archive": ("photos.zip", buffer.getvalue())}, headers=headers, timeout=600
    ).json()
    while reply["status"] != "done":
        time.sleep(0.2)
        reply = session.get(base + reply["urls"]["self"], headers=headers, timeout=60).json()
    elapsed = time.perf_counter() - began
    assert reply["counts"]["done"] == count, reply["counts"]
    with database.session() as db_session:
        results = [j.result for j in db_session.query(Job).filter(Job.batch_id == reply["id"])]
    pipeline_s = sum(sum(r["timings_s"].values()) for r in results)
    return {
        "photos": count,
        "photos_per_minute": count / elapsed * 60,
        "pipeline_photos_per_minute": count / pipeline_s * 60,
        "share_of_pipeline_rate": pipeline_s / elapsed,
    }


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    extra_env, cleanup = production_urls() if args.stack == "production" else ({}, lambda: None)
    session = requests.Session()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            base, database, worker, server = start_stack(tmp / "data", extra_env, args.concurrency)
            try:
                portrait = portrait_jpeg(7)
                first_latency, first_pipeline = one_job(session, base, portrait_jpeg(999))
                report = {
                    "stack": args.stack,
                    "first_job": {"latency_s": first_latency, "pipeline_s": first_pipeline},
                    "portrait_512px": singles(session, base, portrait, args.singles),
                    "phone_12mp": singles(session, base, phone_photo(tmp / "phone.jpg", 12).read_bytes(), args.singles),
                    "batch": batch(session, base, database, create_api_key(database, "benchmark"), args.batch),
                }
            finally:
                server.shutdown()
                worker.terminate()
                worker.wait(timeout=60)
                database.dispose()
    finally:
        cleanup()
    for name in ("portrait_512px", "phone_12mp"):
        r = report[name]
        print(
            f"{args.stack}, {name}, 5 ages: upload to done median {r['latency_s']:.2f} s, "
            f"pipeline {r['pipeline_s']:.2f} s,"
            f" service adds {r['overhead_s']:.2f} s (median of {r['runs']})"
        )
    first = report["first_job"]
    print(
        f"{args.stack}, first job after the worker said ready: {first['latency_s']:.2f} s "
        f"(pipeline {first['pipeline_s']:.2f} s)"
    )
    b = report["batch"]
    print(
        f"{args.stack}, batch of {b['photos']}: {b['photos_per_minute']:.0f} photos/min, "
        "the pipeline's own times allow "
        f"{b['pipeline_photos_per_minute']:.0f} ({b['share_of_pipeline_rate']:.0%})"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
