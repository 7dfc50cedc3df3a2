"""Derive the alignment template from UTKFace's chips and measure how well alignment reproduces them.

    uv run python scripts/derive_template.py [--data ../shared/datasets/utkface]

Detects five landmarks on every chip with MTCNN (cached in .cache/, minutes on a CPU the first time), prints
the per-point median (the template in preprocessing/alignment.py) and the realignment errors in chip pixels.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from aging_model.data import chip_landmarks, index_folder
from preprocessing.alignment import (
    CHIP_TEMPLATE,
    derive_template,
    realignment_error,
    similarity_transform,
    transform_points,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    args = parser.parse_args()
    faces = index_folder(args.data).faces
    key = hashlib.sha1(str(args.data.resolve()).encode()).hexdigest()[:8]
    marks = np.stack(list(chip_landmarks(faces, Path(".cache") / f"landmarks-{key}.npz").values()))
    found = marks[~np.isnan(marks).any(axis=(1, 2))]
    template = derive_template(marks)
    print(f"chips: {len(marks)}, with a face: {len(found)}")
    print("template (200 px chip):", np.round(template, 2).tolist())
    print(f"largest difference from the shipped template: {np.abs(template - CHIP_TEMPLATE).max():.2f} px")
    residual = realignment_error(found, template)
    moved = np.array(
        [np.linalg.norm(transform_points(similarity_transform(m, template), m) - m, axis=1).mean() for m in found]
    )
    for name, values in (("landmark residual after alignment", residual), ("landmark movement when re-aligned", moved)):
        print(
            f"{name}: mean {values.mean():.2f} px, median {np.median(values):.2f}, p95 {np.percentile(values, 95):.2f}"
        )


if __name__ == "__main__":
    main()
