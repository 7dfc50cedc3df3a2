"""Peak memory of a fresh web process while it takes uploads at once: the 120 MP bomb PNG an attacker sends,
a real 48 MP phone-sized JPEG, and 49 MP PNGs of every awkward mode (16-bit grey, RGBA, palette with
transparency, 8-bit RGB) that are small files but decode whole. Each case runs in its own process (VmHWM is a
process's high-water mark).

    uv run python scripts/upload_memory.py [--at-once 4] [--only 16-bit]
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


if __name__ == "__main__":
    main()
