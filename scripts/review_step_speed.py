"""How long one step of the review page takes on a large imported dataset, server side.

    FACEAGE_DATA_DIR=/tmp/fa-full uv run python scripts/review_step_speed.py --steps 30

A step is what the page asks for when the reviewer presses a key to accept an image and move on
(service/static/review.js `decide`): the decision (POST .../decision), the progress counts (GET images?limit=0)
and the next image's detail (GET images/<id>). Timed here through the same service functions the API calls,
without HTTP, on a copy of the SQLite database (the decisions are written to the copy only). The first page of
the queue (GET images?limit=120, when the page opens or a filter changes) is timed too.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from faceage_cli.common import load_settings
from service.database import Database
from service.dataset import review_detail, review_queue
from service.dataset.decisions import ReviewTarget, decide
from service.dataset.review_queue import ReviewFilters


def _ms(run) -> float:
    began = time.perf_counter()
    run()
    return 1000 * (time.perf_counter() - began)


def _line(name: str, times: list[float]) -> str:
    return f"{name:<44} median {statistics.median(times):6.1f} ms, slowest {max(times):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--flag", default=None, help="Review within this flag's filter (e.g. blurred).")
    args = parser.parse_args()
    url = load_settings().database_url
    if not url.startswith("sqlite:///"):
        raise SystemExit("give a SQLite database (FACEAGE_DATA_DIR): the decisions go to a copy of it")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy.sqlite"
        shutil.copyfile(url.split("///", 1)[1], copy)
        db = Database(f"sqlite:///{copy}")
        filters = ReviewFilters(flag=args.flag)
        first_page: list[float] = []
        for _ in range(5):
            first_page.append(_ms(lambda: review_queue(db, filters, 0, 120)))
        queue = review_queue(db, filters, 0, args.steps + 1)
        print(f"{queue['total']} images, {queue['matching']} in the queue{f' of {args.flag}' if args.flag else ''}")
        steps, parts = [], {"decision": [], "progress": [], "next detail": []}
        images = queue["images"]
        for image, following in itertools.pairwise(images):
            target = [ReviewTarget(image["id"], image["version"])]
            timings = {
                "decision": _ms(functools.partial(decide, db, "timer", "accept", target)),
                "progress": _ms(functools.partial(review_queue, db, filters, 0, 0)),
                "next detail": _ms(functools.partial(review_detail, db, following["id"])),
            }
            for name, value in timings.items():
                parts[name].append(value)
            steps.append(sum(timings.values()))
        print(_line("first page of the queue (120 images)", first_page))
        for name, times in parts.items():
            print(_line(f"  {name}", times))
        print(_line(f"one step ({len(steps)} steps)", steps))


if __name__ == "__main__":
    main()
