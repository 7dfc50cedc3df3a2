"""How many small faces of a group photo are found and aged, by face size (a measurement, not a test).

    uv run python scripts/small_faces.py [--sizes 28,32,36,40,45] [--data ../shared/datasets/utkface] [--save DIR]

Builds "group photos" of real faces without downloading anything: the astronaut (scikit-image) and held-out
UTKFace chips (validation split), each scaled so the face box's short side is the given size with a little
spread, several per 560 x 420 canvas with slightly different brightness, saved as JPEG. Each photo goes
through the detector and through the whole pipeline (the CLI's: prototypes renderer and the estimator).
Reported per size placed and per size of the detected box: faces placed, found, aged, the reasons of the
faces left out and the warnings of those aged; and the detections on photos without a face (scikit-image's
coffee, chelsea, rocket...), which should be none.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

CANVAS = (420, 560)  # height, width: a party photo as a messenger app sends it
PEOPLE_PER_ROW = 4
ROWS = 2
# Her head and shoulders in skimage.data.astronaut(), and her face box's (MTCNN) short side and centre in them.
ASTRONAUT_PERSON = (slice(0, 330), slice(110, 340))  # rows, columns
ASTRONAUT_FACE_PX = 88.0
ASTRONAUT_FACE_CENTRE = (112.7, 117.2)
FACELESS = ("coffee", "chelsea", "rocket", "coins", "horse", "page", "hubble_deep_field", "immunohistochemistry")


def background(rng: np.random.Generator) -> np.ndarray:
    """A wall with a soft gradient and a little noise, so the canvas is not one flat colour."""
    height, width = CANVAS
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(20, 60, 3)
    wall = np.clip(rng.uniform(90, 170, 3) + ramp + rng.normal(0, 4, (height, width, 3)), 0, 255)
    return wall.astype(np.uint8)


@dataclass(frozen=True)
class Person:
    """A picture of one person and where its face is: the box's short side and centre (x, y), in its pixels."""

    pixels: np.ndarray
    face_px: float
    face_centre: tuple[float, float]


def group_photo(people: list[Person], face_px: float, seed: int = 0) -> tuple[np.ndarray, list]:
    """A canvas with each person scaled so the face is about `face_px` (+-8 %) and a little brighter or darker,
    in rows; returns the pixels and the centre (x, y) of each placed face."""
    rng = np.random.default_rng(seed)
    canvas = background(rng)
    height, width = CANVAS
    cell_w, cell_h = width // PEOPLE_PER_ROW, height // ROWS
    centres = []
    for index, person in enumerate(people[: PEOPLE_PER_ROW * ROWS]):
        scale = face_px * rng.uniform(0.92, 1.08) / person.face_px
        scaled = cv2.resize(person.pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        scaled = np.clip(scaled * rng.uniform(0.8, 1.15), 0, 255).astype(np.uint8)
        scaled = scaled[:cell_h, :cell_w]
        row, column = divmod(index, PEOPLE_PER_ROW)
        top = row * cell_h + (cell_h - scaled.shape[0]) // 2
        left = column * cell_w + (cell_w - scaled.shape[1]) // 2
        canvas[top : top + scaled.shape[0], left : left + scaled.shape[1]] = scaled
        x, y = person.face_centre
        centres.append((left + x * scale, top + y * scale))
    return canvas, centres


def astronauts(n: int) -> list[Person]:
    """Her head and shoulders, every other one mirrored."""
    from skimage import data

    pixels = data.astronaut()[ASTRONAUT_PERSON]
    x, y = ASTRONAUT_FACE_CENTRE
    mirrored = Person(pixels[:, ::-1].copy(), ASTRONAUT_FACE_PX, (pixels.shape[1] - x, y))
    return [Person(pixels, ASTRONAUT_FACE_PX, (x, y)) if i % 2 == 0 else mirrored for i in range(n)]


def utkface_chips(folder: Path, detector, n: int, seed: int) -> list[Person]:
    """`n` held-out chips with one confident face, each with its face's size in the chip."""
    from aging_model.data import index_folder, read_rgb, split_faces

    _, validation = split_faces(index_folder(folder).faces)
    rng = np.random.default_rng(seed)
    chosen = []
    for i in rng.permutation(len(validation)):
        pixels = read_rgb(validation[i].path)
        faces = detector.detect(pixels) if pixels is not None else []
        if len(faces) == 1 and faces[0].probability > 0.99:
            x1, y1, x2, y2 = faces[0].box
            chosen.append(Person(pixels, faces[0].size, ((x1 + x2) / 2, (y1 + y2) / 2)))
        if len(chosen) == n:
            return chosen
    return chosen


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def around(boxes: list, x: float, y: float):
    """The first box that holds the point, or None."""
    return next((box for box in boxes if box[0] <= x <= box[2] and box[1] <= y <= box[3]), None)


def measure(pipeline, pixels: np.ndarray, centres: list) -> list[dict]:
    """Per placed face: the short side of its detected box (None if not found), whether it was aged, and why
    not."""
    from preprocessing.errors import NoUsableFace

    encoded = jpeg(pixels)
    found = pipeline.detector.detect(np.asarray(Image.open(io.BytesIO(encoded))), max_faces=None)
    try:
        result = pipeline.run(encoded, ages=[70])
        faces = [(face.box, face) for face in result.faces]
        refused = []
    except NoUsableFace:
        faces, refused = [], ["(the photo: no usable face)"]
    records = []
    for x, y in centres:
        detected = around([f.box for f in found], x, y)
        face = next((face for box, face in faces if around([box], x, y) is not None), None)
        records.append(
            {
                "box_px": None
                if detected is None
                else float(min(detected[2] - detected[0], detected[3] - detected[1])),
                "aged": face is not None and face.aged is not None,
                "left_out": refused if face is None else list(face.left_out),
                "warnings": [] if face is None or face.aged is None else face.quality.warnings,
            }
        )
    return records


def summary(records: list[dict]) -> dict:
    return {
        "placed": len(records),
        "found": sum(r["box_px"] is not None for r in records),
        "aged": sum(r["aged"] for r in records),
        "left_out": dict(Counter(code for r in records for code in r["left_out"])),
        "warnings": dict(Counter(w for r in records for w in r["warnings"])),
    }


def by_box_size(records: list[dict], edges=(20, 24, 28, 32, 36, 40, 44, 48)) -> dict:
    """The records of found faces by the size of their detected box."""
    buckets: dict[str, list] = {}
    for record in records:
        if record["box_px"] is None:
            continue
        index = int(np.searchsorted(edges, record["box_px"], side="right"))
        low, high = ([0, *edges][index], [*edges, None][index])
        buckets.setdefault(f"{low}-{high or ''}", []).append(record)
    return {
        name: summary(group) for name, group in sorted(buckets.items(), key=lambda item: int(item[0].split("-")[0]))
    }


def measure_size(pipeline, kind: str, people: list[Person], size: float, save: Path | None) -> list[dict]:
    """Every group of PEOPLE_PER_ROW * ROWS of `people` at one face size."""
    records = []
    per_photo = PEOPLE_PER_ROW * ROWS
    for number in range(len(people) // per_photo):
        pixels, centres = group_photo(people[number * per_photo : (number + 1) * per_photo], size, seed=number)
        if save:
            save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(save / f"{kind}-{size:g}px-{number}.png")
        records += measure(pipeline, pixels, centres)
    return records


def faceless(detector) -> dict:
    from skimage import data

    found = {}
    for name in FACELESS:
        pixels = getattr(data, name)()
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        found[name] = [round(f.probability, 3) for f in detector.detect(np.ascontiguousarray(pixels[..., :3]))]
    return found


def main() -> None:
    from aging_model.caae.inference import AgingModel
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.pipeline import AgingPipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="28,32,36,40,45")
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--save", type=Path, default=None, help="write each group photo here as PNG")
    args = parser.parse_args()
    model = AgingModel.load(device="cpu")
    pipeline = AgingPipeline(model, estimator=AgeGenderEstimator.load(device="cpu"))
    people = {"astronaut": astronauts(PEOPLE_PER_ROW * ROWS)}
    if args.data.is_dir():
        people["utkface"] = utkface_chips(args.data, pipeline.detector, PEOPLE_PER_ROW * ROWS * 3, seed=0)
    report = {"faceless": faceless(pipeline.detector), "by_placed_size": {}, "by_box_size": {}}
    began = time.perf_counter()
    every: dict[str, list] = {kind: [] for kind in people}
    for size in [float(s) for s in args.sizes.split(",")]:
        for kind, group in people.items():
            records = measure_size(pipeline, kind, group, size, args.save)
            report["by_placed_size"].setdefault(f"{size:g}", {})[kind] = summary(records)
            every[kind] += records
    report["by_box_size"] = {kind: by_box_size(records) for kind, records in every.items()}
    report["seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(report, indent=2, default=dict))


if __name__ == "__main__":
    main()
