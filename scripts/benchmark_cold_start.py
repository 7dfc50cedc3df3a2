"""Cold start of `faceage age` on one photo against `import torch` alone, each in a fresh process,
alternating so that the machine's noise falls on both (a benchmark, not a test).

    uv run python scripts/benchmark_cold_start.py [--runs 5]

The goal (issue 11): the whole command within 2 s of what importing PyTorch costs on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACEAGE = Path(sys.executable).parent / "faceage"


def _seconds(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photo", type=Path, default=ROOT / "docs" / "astronaut.jpg")
    args = parser.parse_args()
    torch_s, age_s = [], []
    with tempfile.TemporaryDirectory() as out:
        _seconds([sys.executable, "-c", "import torch"])  # the first run reads the files from disk
        for _ in range(args.runs):
            torch_s.append(_seconds([sys.executable, "-c", "import torch"]))
            age_s.append(_seconds([str(FACEAGE), "age", str(args.photo), "--out", out]))
    torch_median, age_median = statistics.median(torch_s), statistics.median(age_s)
    print(
        f"import torch: median {torch_median:.2f} s; faceage age {args.photo.name}: median {age_median:.2f} s "
        f"({args.runs} runs each); the command costs import torch + {age_median - torch_median:.2f} s "
        f"(goal: + 2 s at most)"
    )


if __name__ == "__main__":
    main()
