"""How many held-out UTKFace faces the pipeline refuses, and why (a measurement, not a test).

    uv run python scripts/refusal_rate.py [--data ../shared/datasets/utkface] [--limit N]

Each validation-split chip goes through the pipeline's own first half (load, detect, align, assess with the
default thresholds); a chip is refused when `faceage age` would answer it with a reason instead of a result.
Faces aged with a warning (soft, dark, washed out, black and white) are counted by warning.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from aging_model.data import index_folder, split_faces
from preprocessing.alignment import align_face
from preprocessing.detection import FaceDetector
from preprocessing.errors import PhotoError
from preprocessing.loading import load_photo
from preprocessing.quality import ANALYSIS_SIZE, assess_face


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    _, validation = split_faces(index_folder(args.data).faces)
    faces = validation[: args.limit] if args.limit else validation
    detector = FaceDetector()
    refused, warnings = Counter(), Counter()
    for face in tqdm(faces, desc="assessing", unit="face"):
        try:
            photo = load_photo(face.path)
        except PhotoError as error:
            refused[f"unreadable: {error.code}"] += 1
            continue
        detected = detector.detect(photo.pixels)
        if not detected:
            refused["no_face"] += 1
            continue
        reports = [
            assess_face(d, align_face(photo.pixels, d.landmarks, ANALYSIS_SIZE).pixels, photo.scale) for d in detected
        ]
        usable = [r for r in reports if r.usable]
        if not usable:
            refused.update({"+".join(sorted({r for rep in reports for r in rep.reasons}))})
            continue
        warnings.update(w for r in usable for w in r.warnings)
    total = len(faces)
    summary = {
        "faces": total,
        "refused": sum(refused.values()),
        "refused_share": round(sum(refused.values()) / total, 4),
        "refused_by_reason": dict(refused.most_common()),
        "aged_with_warning": dict(warnings.most_common()),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
