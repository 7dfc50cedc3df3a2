"""The prepared GPU benchmark runs end to end on a CPU (small sizes), so it works when a GPU is lent."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark_gpu.py"


def test_the_gpu_benchmark_runs_on_the_cpu_and_writes_its_report(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "benchmark_gpu.json").read_text())
    assert report["device"].startswith("cpu")
    assert all(rate > 0 for rate in report["caae_faces_per_second_10_ages"].values())
    assert report["prototype_faces_per_second_10_ages"] > 0
    assert set(report["photos_per_second_by_jobs_per_call"]) == {"caae", "prototypes"}
    assert "faces/s" in done.stdout
