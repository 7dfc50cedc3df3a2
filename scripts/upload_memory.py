"""Peak memory of a fresh web process while it takes uploads at once: the 120 MP bomb PNG an attacker sends,
a real 48 MP phone-sized JPEG, and 49 MP PNGs of every awkward mode (16-bit grey, RGBA, palette with
transparency, 8-bit RGB) that are small files but decode whole. Each case runs in its own process (VmHWM is a
process's high-water mark). `--batch-mb 300` also sends one zip of that size to /api/v1/batches.

    uv run python scripts/upload_memory.py [--at-once 4] [--only 16-bit] [--batch-mb 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_UPLOADS_AT_ONCE = """
import io, json, sys, threading
from service.app import create_app
from service.config import Settings
from service.database import Database
data_dir, photo, at_once = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings(data_dir=data_dir, rate_limit="1000/minute")
Database(settings.database_url).upgrade()
app = create_app(settings, enqueue=lambda job_id: None)
content = open(photo, "rb").read()
def high_water_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
app.test_client().get("/livez")
before = high_water_mb()
statuses = []
def upload():
    reply = app.test_client().post("/api/v1/jobs", data={"photo": (io.BytesIO(content), "p")},
                                   content_type="multipart/form-data")
    statuses.append(reply.status_code)
threads = [threading.Thread(target=upload) for _ in range(at_once)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"before_mb": round(before), "peak_mb": round(high_water_mb()), "statuses": sorted(statuses)}))
"""

_BATCH = """
import json, sys
from service.app import create_app
from service.auth import create_api_key
from service.config import Settings
from service.database import Database
from werkzeug.test import EnvironBuilder
data_dir, archive = sys.argv[1], sys.argv[2]
settings = Settings(data_dir=data_dir, rate_limit="1000/minute")
database = Database(settings.database_url)
database.upgrade()
key = create_api_key(database, "memory")
app = create_app(settings, enqueue=lambda job_id: None)
def high_water_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
app.test_client().get("/livez")
with open(archive, "rb") as zip_file:  # the body is copied to a temporary file in chunks, not into memory
    environ = EnvironBuilder(path="/api/v1/batches", method="POST", data={"archive": (zip_file, "photos.zip")},
                             headers={"Authorization": f"Bearer {key}"}).get_environ()
before = high_water_mb()
reply = app.test_client().open(environ)
print(json.dumps({"before_mb": round(before), "peak_mb": round(high_water_mb()), "statuses": [reply.status_code]}))
"""


def _batch_zip(path: Path, megabytes: int) -> Path:
    """A zip of 2 MB members that are not photos (each becomes a quickly failed item: the cost is the reading)."""
    import zipfile

    import numpy as np

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for n in range(max(1, megabytes // 2)):
            archive.writestr(f"{n}.jpg", rng.integers(0, 256, 2_000_000, dtype=np.uint8).tobytes())
    return path


def _bomb(path: Path) -> Path:
    from PIL import Image

    Image.new("1", (10_950, 10_950)).save(path, optimize=True)
    return path


def _phone_photo(path: Path) -> Path:
    """The astronaut enlarged to 8000 x 6000 (48 MP), as a phone's main camera writes it."""
    import numpy as np
    from PIL import Image
    from skimage import data

    canvas = Image.fromarray(data.astronaut()).resize((6000, 6000)).crop((0, 0, 6000, 6000))
    wide = Image.new("RGB", (8000, 6000), (90, 110, 130))
    wide.paste(canvas, (1000, 0))
    noise = np.random.default_rng(0).integers(0, 8, (6000, 8000, 3), dtype=np.uint8)
    Image.fromarray(np.asarray(wide) + noise).save(path, quality=90)
    return path


def _big_png(path: Path, mode: str) -> Path:
    """A 7000 x 7000 PNG (49 MP, under the 50 MP decoding limit) of one colour in `mode`: a file of 100-200 KB."""
    from PIL import Image

    colours = {"I;16": 40_000, "RGBA": (200, 120, 80, 128), "RGB": (200, 120, 80), "P": 3}
    image = Image.new(mode, (7000, 7000), colours[mode])
    if mode == "P":
        image.putpalette([v for i in range(256) for v in (i, 255 - i, 128)])
        image.info["transparency"] = 3
    image.save(path, compress_level=9)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    parser.add_argument("--batch-mb", type=int, default=0, help="also send a zip of this many MB as one batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        makers = {
            "120 MP PNG bomb": lambda: _bomb(folder / "bomb.png"),
            "48 MP JPEG": lambda: _phone_photo(folder / "phone.jpg"),
            "49 MP 16-bit grey PNG": lambda: _big_png(folder / "grey16.png", "I;16"),
            "49 MP RGBA PNG": lambda: _big_png(folder / "rgba.png", "RGBA"),
            "49 MP palette PNG with transparency": lambda: _big_png(folder / "palette.png", "P"),
            "49 MP 8-bit RGB PNG": lambda: _big_png(folder / "rgb.png", "RGB"),
        }
        for name, make in makers.items():
            if args.only not in name:
                continue
            photo = make()
            data_dir = folder / f"data-{photo.stem}"
            done = subprocess.run(
                [sys.executable, "-c", _UPLOADS_AT_ONCE, str(data_dir), str(photo), str(args.at_once)],
                capture_output=True,
                text=True,
                check=True,
            )
            outcome = json.loads(done.stdout.strip().splitlines()[-1])
            size_kb = photo.stat().st_size / 1024
            print(
                f"{name}, {size_kb:,.0f} KB, {args.at_once} at once: web process {outcome['before_mb']} MB -> "
                f"peak {outcome['peak_mb']} MB (+{outcome['peak_mb'] - outcome['before_mb']} MB), "
                f"answers {outcome['statuses']}"
            )
        if args.batch_mb:
            archive = _batch_zip(folder / "batch.zip", args.batch_mb)
            done = subprocess.run(
                [sys.executable, "-c", _BATCH, str(folder / "data-batch"), str(archive)],
                capture_output=True,
                text=True,
                check=True,
            )
            outcome = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"one batch zip of {archive.stat().st_size / 2**20:,.0f} MB: web process {outcome['before_mb']} MB -> "
                f"peak {outcome['peak_mb']} MB (+{outcome['peak_mb'] - outcome['before_mb']} MB), "
                f"answers {outcome['statuses']}"
            )


if __name__ == "__main__":
    main()
