"""Side-by-side sheets of the renderers on public-domain portraits outside the training data (a demo, not a test).

    uv run python scripts/showcase.py [--out docs/showcase.jpg]

For each portrait, the aligned face and the face at 5, 20, 40, 60 and 80: the upper row from the earlier
renderer (`caae`: the 64 px generator's change, blended with its rendering), the lower row from the default
(`prototypes`). Portraits: the astronaut Eileen Collins (NASA, in scikit-image), Barack Obama's 2012 official
portrait (the White House, Pete Souza; a US government work) and Grace Hopper (US Navy, in matplotlib).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aging_model.caae.inference import AgingModel
from aging_model.estimator.age_gender import AgeGenderEstimator
from aging_model.media.sheets import face_grid
from aging_model.pipeline import AgingPipeline, PipelineSettings

AGES = (5, 20, 40, 60, 80)
ROOT = Path(__file__).resolve().parents[1]
ROW_LABEL_WIDTH = 110


def portraits() -> dict[str, Path]:
    from matplotlib import cbook

    return {
        "astronaut": ROOT / "docs" / "astronaut.jpg",
        "obama": ROOT / "docs" / "obama.jpg",
        "grace_hopper": Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
    }


def renderer_rows(photo: Path, pipelines: dict[str, AgingPipeline]) -> list[tuple[str, list[np.ndarray]]]:
    rows = []
    for name, pipeline in pipelines.items():
        [face] = pipeline.run(photo, ages=AGES).aged_faces[:1]
        rows.append((f"{name}\n(reads {face.estimated_age:.0f})", [face.detail, *face.aged]))
    return rows


def head_and_shoulders(composite: np.ndarray, box: np.ndarray, height: int) -> Image.Image:
    """The part of a whole photo around one face's box with room for the hair and the neck, `height` px tall:
    what the head looks like, not only the face crop."""
    x0, y0, x1, y1 = box
    width, tall = x1 - x0, y1 - y0
    region = (
        int(max(0, x0 - 0.75 * width)),
        int(max(0, y0 - 0.8 * tall)),
        int(min(composite.shape[1], x1 + 0.75 * width)),
        int(min(composite.shape[0], y1 + 0.6 * tall)),
    )
    part = Image.fromarray(composite).crop(region)
    return part.resize((round(part.width * height / part.height), height), Image.LANCZOS)


def whole_photo_sheet(pipeline: AgingPipeline, out: Path, height: int = 260) -> None:
    """Each portrait's head and shoulders in the whole aged photo (hair, ears, neck), input then every age."""
    rows = []
    for photo in portraits().values():
        result = pipeline.run(photo, ages=AGES)
        box = result.aged_faces[0].box * result.photo.scale
        rows.append([head_and_shoulders(image, box, height) for image in [result.photo.pixels, *result.composites]])
    width = max(sum(cell.width for cell in row) for row in rows)
    sheet = Image.new("RGB", (width, 24 + height * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    x = 0
    for label, cell in zip(["input", *(str(a) for a in AGES)], rows[0]):
        draw.text((x + 6, 4), label, fill="black", font=font)
        x += cell.width
    for r, row in enumerate(rows):
        x = 0
        for cell in row:
            sheet.paste(cell, (x, 24 + r * height))
            x += cell.width
    sheet.save(out, quality=90)
    print(f"wrote {out}")


def labelled(grid: Image.Image, labels: list[str], cell: int, gap: int = 2, top: int = 20) -> Image.Image:
    sheet = Image.new("RGB", (grid.width + ROW_LABEL_WIDTH, grid.height), "white")
    sheet.paste(grid, (ROW_LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    for r, label in enumerate(labels):
        draw.multiline_text((6, top + gap + r * (cell + gap) + cell // 2 - 18), label, fill="black", font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "showcase.jpg")
    parser.add_argument("--cell", type=int, default=150)
    args = parser.parse_args()
    model, estimator = AgingModel.load(device="cpu"), AgeGenderEstimator.load(device="cpu")
    pipelines = {
        renderer: AgingPipeline(model, settings=PipelineSettings(renderer=renderer), estimator=estimator)
        for renderer in ("caae", "prototypes")
    }
    rows, labels = [], []
    for name, photo in portraits().items():
        for label, faces in renderer_rows(photo, pipelines):
            rows.append(faces)
            labels.append(f"{name.replace('_', ' ')}\n{label}")
    grid = face_grid(rows, ["input", *(str(a) for a in AGES)], cell=args.cell)
    labelled(grid, labels, args.cell).save(args.out, quality=90)
    print(f"wrote {args.out}")
    whole_photo_sheet(pipelines["prototypes"], args.out.with_name(args.out.stem + "-photos.jpg"))


if __name__ == "__main__":
    main()
