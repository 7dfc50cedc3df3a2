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

from aging_model.estimator import AgeGenderEstimator
from aging_model.inference import AgingModel
from aging_model.pipeline import AgingPipeline, PipelineSettings
from aging_model.sheets import face_grid

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


if __name__ == "__main__":
    main()
