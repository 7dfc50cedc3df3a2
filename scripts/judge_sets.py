"""Quick judged sets for trying a renderer lever: held-out UTKFace faces aimed at other ages, read by the shipped
estimator and the age judge, with a sheet per set (input, then each target). Faster than `faceage evaluate
--judges-only` (no realism test, fewer faces); use that for the numbers of record.

    uv run python scripts/judge_sets.py NAME [--sets old,mid] [--faces 24] [CONSTANT=value ...]

CONSTANT=value overrides a module constant of aging_model.prototypes.aging for this run (e.g. _EYES_PULL=0.5;
module.CONSTANT=value one of another module of aging_model.prototypes, e.g. proportions.FACE_GROWTH_ADULT=0.2),
so a lever is compared with itself at the same faces. Values are Python expressions in that module, so
YOUNGER_STRENGTH="replace(YOUNGER_STRENGTH, shape=2.5)" works too. Sheets go to runs/judge-sets/NAME-SET.png
(never commit them: they are dataset faces).

Sets: adults (20-60, aimed at 3, 8, 13), children (1-7, at 25, 45, 75), old (65-95, at 20, 40, 60),
mid (40-60, at 20, 30), older (20-45, at 60, 75), oldkids (65-95, at 3, 8).

A lever that moves the face in its crop (growing it, shifting it) moves the readings through the framing alone:
check it with --realigned, which aligns each aged face again on itself, as real faces are aligned. In the sixth
round of issue 17, the face growth at 0.1 read 52.6 -> 42.1 (children aimed at 45, estimator) in the input's
frame and 53.6 -> 55.0 realigned: a framing artefact.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

import aging_model.prototypes.aging as prototype_aging
from aging_model.caae.inference import AgingModel
from aging_model.data import index_folder, split_faces
from aging_model.estimator.age_gender import AgeGenderEstimator
from aging_model.evaluation import judged
from aging_model.evaluation.age_judge import AgeJudge
from aging_model.evaluation.judged_sampling import stratified_choice
from aging_model.pipeline import AgingPipeline

SETS = {
    "adults": ((20, 60), (3, 8, 13), 1.0),
    "children": ((1, 7), (25, 45, 75), 0.5),
    "old": ((65, 95), (20, 40, 60), 0.5),
    "mid": ((40, 60), (20, 30), 0.5),
    "older": ((20, 45), (60, 75), 0.5),
    "oldkids": ((65, 95), (3, 8), 0.5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("overrides", nargs="*", help="CONSTANT=value of aging_model.prototypes.aging")
    parser.add_argument("--sets", default="adults,children,old,mid")
    parser.add_argument("--faces", type=int, default=24, help="adults per run; the other sets take half")
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/utkface"))
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache"))
    parser.add_argument("--out", type=Path, default=Path("runs/judge-sets"))
    parser.add_argument(
        "--realigned",
        action="store_true",
        help="read each aged face aligned again on itself, not in its input's frame (a change of the face's size "
        "or place then cannot move the readings through the crop alone)",
    )
    args = parser.parse_args()
    for override in args.overrides:
        name, value = override.split("=", 1)
        module, _, constant = name.rpartition(".")
        target = importlib.import_module(f"aging_model.prototypes.{module}") if module else prototype_aging
        if not hasattr(target, constant):
            parser.error(f"{target.__name__} has no {constant}")
        # A dev tool: values may name the module's own types and constants.
        setattr(target, constant, eval(value, {**vars(target), "replace": dataclasses.replace}))

    _, val = split_faces(index_folder(args.data).faces)
    chosen = {
        name: (stratified_choice([f for f in val if low <= f.age <= high], round(args.faces * share), 0), targets)
        for name, ((low, high), targets, share) in SETS.items()
        if name in args.sets.split(",")
    }
    chips = judged.align_chips(args.data, args.cache_dir, [f for faces, _ in chosen.values() for f in faces])
    model = AgingModel.load(device="cpu")
    estimator = AgeGenderEstimator.load(device="cpu")
    pipeline = AgingPipeline(model, estimator=estimator)
    readers = judged._Readers(estimator, AgeJudge.load(), None)
    args.out.mkdir(parents=True, exist_ok=True)
    began, readings = time.monotonic(), {}
    for name, (faces, targets) in chosen.items():
        faces = [f for f in faces if f.path.name in chips]
        rendered = judged.render_as_served(
            pipeline, [chips[f.path.name] for f in faces], targets, realigned=args.realigned
        )["served"]
        served = np.stack([judged._crops(rendered[:, i]) for i in range(len(targets))], axis=1)
        for i, target in enumerate(targets):
            read = readers.read(np.ascontiguousarray(served[:, i]))
            readings[f"{name} -> {target}"] = {
                "estimator": round(float(np.mean(read["estimator"])), 1),
                "judge": round(float(np.mean(read["judge"])), 1),
            }
        inputs = judged._crops(np.stack([chips[f.path.name].padded for f in faces]))
        rows = [np.concatenate([inputs[k], *served[k]], axis=1) for k in range(min(12, len(faces)))]
        sheet = Image.fromarray(np.concatenate(rows, axis=0))
        sheet.thumbnail((900, 3000))
        sheet.save(args.out / f"{args.name}-{name}.png")
    print(json.dumps({"run": args.name, "overrides": args.overrides, "readings": readings}, indent=1))
    print(f"{time.monotonic() - began:.0f} s; sheets in {args.out}/")


if __name__ == "__main__":
    main()
