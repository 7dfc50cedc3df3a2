"""Does cleaning help? The age estimator trained on the raw training split and on the cleaned one, measured alike.

    export FACEAGE_DATA_DIR=/tmp/fa-full                      # a curation database of its own
    uv run faceage dataset import ../shared/datasets/utkface
    # 1. the per-image pass, validation split first, then the rest in a random order (stop it when time is up):
    nice -n 10 uv run python scripts/cleaning_effect.py flag --jobs 2
    # 2. the automatic cleaning's manifest (analysed images free of these flags, as in docs/curation.md):
    uv run faceage dataset export --out runs/cleaning/cleaned.csv $(for f in no_face several_faces \
        low_detection_probability face_too_small cut_off extreme_pose low_resolution underexposed overexposed \
        text_overlay age_label_outlier gender_label_disagrees malformed_name unreadable; \
        do echo --include-pending-except $f; done)
    # 3. the chip landmarks the pass found, as the training's landmark cache, and the list of analysed faces:
    uv run python scripts/cleaning_effect.py landmarks
    # 4. one training each, same seed and epochs, side by side with one thread each:
    nice -n 10 uv run python scripts/cleaning_effect.py train raw --epochs 7 &
    nice -n 10 uv run python scripts/cleaning_effect.py train cleaned --manifest runs/cleaning/cleaned.csv --epochs 7
    # 5. the table in docs/curation.md:
    uv run python scripts/cleaning_effect.py table

Each run is `faceage train-estimator`'s training (`aging_model.estimator.fit_estimator`, its default
`EstimatorTrainConfig`, seed 0) on the fixed training split of the analysed faces, raw or with only the faces the
manifest keeps. Both are measured on the same faces: the whole validation split (its wrong labels included),
and the part of it that the cleaning keeps. The table gives the validation age MAE (mirrored face averaged in,
as `AgeGenderEstimator.estimate` reads) overall, per race label and per age group, the cleaned-minus-raw
difference with a bootstrap interval, and gender accuracy.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT.parent / "shared" / "datasets" / "utkface"
OUT = ROOT / "runs" / "cleaning"
ANALYSED = OUT / "analysed.txt"  # the faces the curation pass analysed, when it did not reach them all
RACES = ("White", "Black", "Asian", "Indian", "Others")
AGE_GROUPS = ((0, 15), (16, 30), (31, 45), (46, 60), (61, 200))  # as curation.fairness


def _landmark_cache() -> Path:
    # aging_model.data.load_aligned_split keys its caches by the resolved dataset folder
    key = hashlib.sha1(str(DATASET.resolve()).encode()).hexdigest()[:8]
    return ROOT / ".cache" / f"landmarks-{key}.npz"


def landmarks_from_database() -> None:
    """Fill the training's landmark cache from the landmarks `faceage dataset flag` stored (the same detector
    and the same choice of face: the confident one nearest the chip's centre; stored to 0.1 px)."""
    from sqlalchemy import select

    from faceage_cli.common import service_database
    from service.models import DatasetImage

    path = _landmark_cache()
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as stored:
            cached = dict(zip(stored["names"].tolist(), stored["landmarks"]))
    before = len(cached)
    nan = np.full((5, 2), np.nan, np.float32)
    analysed_names: set[str] = set()
    with service_database().session() as session:
        columns = (DatasetImage.source_path, DatasetImage.copies, DatasetImage.measures, DatasetImage.analysed_at)
        for source, copies, measures, analysed in session.execute(select(*columns)):
            if analysed is None:
                continue
            marks = (measures or {}).get("landmarks")
            # an exact copy of an image (the same bytes under another name) has its landmarks
            for name in [Path(source).name] + [Path(c["path"]).name for c in copies or []]:
                analysed_names.add(name)
                if name not in cached:
                    cached[name] = nan if marks is None else np.asarray(marks, np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array(list(cached)), landmarks=np.stack(list(cached.values())).astype(np.float32))
    print(f"{path}: {before} landmarks detected before, {len(cached) - before} added from the database")
    OUT.mkdir(parents=True, exist_ok=True)
    ANALYSED.write_text("\n".join(sorted(analysed_names)) + "\n")
    print(f"{ANALYSED}: {len(analysed_names)} analysed faces")


def flag_in_random_order(jobs: int, chunk_size: int = 32) -> None:
    """`faceage dataset flag --local`'s per-image pass over the pending images, the validation split first, then
    the rest in a random order (seed 0): a run stopped early has flagged a random sample of the training split,
    not its first file names."""
    import random

    from sqlalchemy import select
    from tqdm import tqdm

    from aging_model.data import is_validation
    from faceage_cli.common import load_settings, service_database
    from faceage_cli.curating import _flag_in_processes
    from service.dataset import pending_analysis
    from service.models import DatasetImage

    database = service_database()
    pending = set(pending_analysis(database))
    with database.session() as session:
        names = dict(session.execute(select(DatasetImage.id, DatasetImage.source_path)).all())
    ids = sorted(pending)
    random.Random(0).shuffle(ids)
    # the validation split first: both runs are measured on all of it
    ids.sort(key=lambda i: not is_validation(Path(names[i]).name))
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    with tqdm(total=len(ids), unit="image", desc="flagging", file=sys.stderr) as bar:
        _flag_in_processes(load_settings(), chunks, bar, jobs)


def _kept_names(manifest: Path) -> set[str]:
    with open(manifest, newline="") as handle:
        return {Path(row["path"]).name for row in csv.DictReader(handle)}


def _aligned_split(resolution: int):
    """`aging_model.data.load_aligned_split` of the dataset folder, limited to the analysed faces when the curation
    pass did not reach them all (ANALYSED lists them; written by `landmarks`), so no face is detected again."""
    from aging_model.data import align_chips, chip_landmarks, index_folder, is_validation, train_overrides

    faces = index_folder(DATASET).faces
    if ANALYSED.exists():
        analysed = set(ANALYSED.read_text().split())
        faces = [f for f in faces if f.path.name in analysed]
    landmarks = chip_landmarks(faces, _landmark_cache())
    tensors, counts = align_chips(faces, landmarks, resolution)
    print(f"{len(tensors)} faces; alignment {dict(counts)}", flush=True)
    to_train = train_overrides()
    held_out = [is_validation(n, 5, to_train) for n in tensors.names]
    return (
        tensors.subset([i for i, v in enumerate(held_out) if not v]),
        tensors.subset([i for i, v in enumerate(held_out) if v]),
    )


def train(name: str, manifest: Path | None, epochs: int, threads: int, limit: int | None = None, seed: int = 0) -> None:
    import torch

    from aging_model.data import parse_utkface_name
    from aging_model.estimator.age_gender import AgeGenderEstimator, EstimatorTrainConfig, fit_estimator, save_estimator

    torch.set_num_threads(threads)
    config = EstimatorTrainConfig(data=str(DATASET), epochs=epochs, device="cpu", seed=seed)
    train_set, val_set = _aligned_split(config.model.resolution)
    if manifest is not None:
        kept = _kept_names(manifest)
        train_set = train_set.subset([i for i, n in enumerate(train_set.names) if n in kept])
    if limit:
        train_set = train_set.subset(list(range(min(limit, len(train_set)))))
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    out = OUT / _run_name(name, seed)
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    history = []
    net, metrics = fit_estimator(train_set, val_set, config, torch.device("cpu"), on_epoch=history.append, desc=name)
    hours = (time.monotonic() - began) / 3600
    card = {"training_faces": len(train_set), "epochs": epochs, "train_hours": round(hours, 3), "metrics": metrics}
    save_estimator(out / "estimator.safetensors", net, config.model, card)
    estimate = AgeGenderEstimator.load(out / "estimator.safetensors", device="cpu").estimate(
        val_set.images.permute(0, 2, 3, 1).numpy()
    )
    labels = [parse_utkface_name(n) for n in val_set.names]
    np.savez(
        out / "validation.npz",
        names=np.array(val_set.names),
        ages=val_set.ages.numpy(),
        genders=val_set.genders.numpy(),
        races=np.array([-1 if f is None or f.race is None else f.race for f in labels]),
        estimated_ages=estimate.ages,
        female_probability=estimate.female_probability,
    )
    summary = {**card, "manifest": str(manifest) if manifest else None, "history": history}
    (out / "run.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, default=float))


def _mae(rows: dict, mask: np.ndarray) -> str:
    if not mask.any():
        return "-"
    from aging_model.estimator.age_gender import MAX_AGE

    errors = np.abs(rows["estimated_ages"][mask] - np.minimum(rows["ages"][mask], MAX_AGE))
    return f"{errors.mean():.2f}"


def _paired_difference(raw: dict, cleaned: dict, mask: np.ndarray, rounds: int = 2000) -> tuple[float, ...]:
    """The cleaned run's MAE minus the raw run's on the same faces, with a 95 % bootstrap interval over faces
    (it says nothing of how much another seed would move either run)."""
    from aging_model.estimator.age_gender import MAX_AGE

    truth = np.minimum(raw["ages"][mask], MAX_AGE)
    gain = np.abs(cleaned["estimated_ages"][mask] - truth) - np.abs(raw["estimated_ages"][mask] - truth)
    draws = np.random.default_rng(0).integers(0, len(gain), size=(rounds, len(gain)))
    means = gain[draws].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(gain.mean()), float(np.percentile(means, 97.5))


def _run_name(name: str, seed: int) -> str:
    return name if seed == 0 else f"{name}-seed{seed}"


def table(manifest: Path, seed: int = 0) -> None:
    """The Markdown table of docs/curation.md from the two runs' stored validation readings."""
    runs = {}
    for name in ("raw", "cleaned"):
        with np.load(OUT / _run_name(name, seed) / "validation.npz") as stored:
            runs[name] = {k: stored[k] for k in stored.files}
        runs[name]["card"] = json.loads((OUT / _run_name(name, seed) / "run.json").read_text())
    raw = runs["raw"]
    assert (raw["names"] == runs["cleaned"]["names"]).all(), "the two runs were measured on different faces"
    kept = _kept_names(manifest)
    in_cleaned = np.array([n in kept for n in raw["names"]])
    groups = [("all", np.ones(len(raw["names"]), bool))]
    groups += [(f"race: {race}", raw["races"] == i) for i, race in enumerate(RACES)]
    groups += [
        (f"age: {lo}-{hi}" if hi < 200 else f"age: {lo}+", (raw["ages"] >= lo) & (raw["ages"] <= hi))
        for lo, hi in AGE_GROUPS
    ]
    print("| validation faces | all: faces | raw | cleaned | kept by the cleaning: faces | raw | cleaned |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, mask in groups:
        cells = [str(int(mask.sum())), _mae(raw, mask), _mae(runs["cleaned"], mask)]
        kept_mask = mask & in_cleaned
        cells += [str(int(kept_mask.sum())), _mae(raw, kept_mask), _mae(runs["cleaned"], kept_mask)]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for label, mask in (("all validation faces", np.ones(len(in_cleaned), bool)), ("those kept", in_cleaned)):
        low, mid, high = _paired_difference(raw, runs["cleaned"], mask)
        print(f"\ncleaned - raw MAE on {label}: {mid:+.2f} years (95 % bootstrap interval {low:+.2f} to {high:+.2f})")
    accuracy = {
        name: float(((run["female_probability"] > 0.5).astype(int) == run["genders"]).mean())
        for name, run in runs.items()
    }
    print(f"\ngender right (all validation faces): raw {accuracy['raw']:.1%}, cleaned {accuracy['cleaned']:.1%}")
    for name, run in runs.items():
        card = run["card"]
        print(f"{name}: {card['training_faces']} training faces, {card['epochs']} epochs, {card['train_hours']} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("landmarks", help="Fill the landmark cache from the curation database.")
    flagging = commands.add_parser("flag", help="The per-image pass over the pending images in a random order.")
    flagging.add_argument("--jobs", type=int, default=2)
    run = commands.add_parser("train", help="Train and measure one estimator.")
    run.add_argument("name", choices=("raw", "cleaned"))
    run.add_argument("--manifest", type=Path, default=None, help="The cleaning's export: train on these faces only.")
    run.add_argument("--epochs", type=int, required=True)
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--limit", type=int, default=None, help="Train on the first N faces only (a quick trial).")
    run.add_argument("--seed", type=int, default=0, help="Another seed's pair is stored beside seed 0's.")
    shown = commands.add_parser("table", help="The table of both runs.")
    shown.add_argument("--manifest", type=Path, default=OUT / "cleaned.csv")
    shown.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "landmarks":
        landmarks_from_database()
    elif args.command == "flag":
        flag_in_random_order(args.jobs)
    elif args.command == "train":
        if (args.name == "cleaned") != (args.manifest is not None):
            sys.exit("the cleaned run needs --manifest, the raw one none")
        train(args.name, args.manifest, args.epochs, args.threads, args.limit, args.seed)
    else:
        table(args.manifest, args.seed)


if __name__ == "__main__":
    main()
