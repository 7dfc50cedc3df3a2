"""`faceage dataset ...`: import, flag, review and export the training set."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import click

from faceage_cli.common import EXIT_PHOTO_FAILED, fail, load_settings, service_database


@click.group()
def dataset() -> None:
    """Curate a training set: import it, flag what is suspicious, list it, export the chosen images.

    Uses the service's database (FACEAGE_DATABASE_URL; SQLite under FACEAGE_DATA_DIR by default).
    """


@dataset.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--labels",
    "labels_csv",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV of path,age,gender[,race]; its labels replace those in the file names.",
)
def dataset_import(folder: Path, labels_csv: Path | None) -> None:
    """Register every image in FOLDER: content hash, path, labels, thumbnail. Safe to run again."""
    from tqdm import tqdm

    from service.dataset import dataset_files, import_files

    if not folder.is_dir():
        fail(f"dataset folder not found: {folder}")
    table = _label_table(labels_csv) if labels_csv else None
    files = dataset_files(folder)
    if not files:
        fail(f"no images in {folder} (looked for .jpg, .jpeg, .png, .webp)")
    database = service_database()
    with tqdm(total=len(files), unit="image", desc="importing", file=sys.stderr) as bar:
        summary = import_files(database, files, table, on_file=lambda: bar.update(1))
    bad_rows = f"; {table.bad_rows} unusable row(s) in {labels_csv}" if table and table.bad_rows else ""
    click.echo(f"{len(files)} file(s) in {folder}: {summary.line()}{bad_rows}")
    for failure in summary.failures:
        click.echo(f"failed: {failure}", err=True)
    if summary.failures:
        sys.exit(EXIT_PHOTO_FAILED)


def _label_table(labels_csv: Path):

    from curation.labels import read_label_csv

    try:
        return read_label_csv(labels_csv)
    except FileNotFoundError:
        fail(f"labels file not found: {labels_csv}")
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as error:
        fail(f"cannot read labels from {labels_csv}: {error}")


@dataset.command("flag")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Analyse at most N images not analysed yet.")
@click.option("--local", is_flag=True, help="Compute in this process instead of through the workers' queue.")
@click.option(
    "--chunk-size", default=64, show_default=True, type=click.IntRange(1, 1000), help="Images per worker task."
)
@click.option(
    "--jobs",
    type=click.IntRange(1, None),
    default=None,
    help="With --local: processes to analyse in, each with its share of the cores (default: one per core).",
)
@click.option(
    "--stall-s",
    default=300,
    show_default=True,
    type=click.IntRange(1, None),
    help="Give up when the workers analyse nothing for this long.",
)
def dataset_flag(limit: int | None, local: bool, chunk_size: int, jobs: int | None, stall_s: int) -> None:
    """Flag what is suspicious in the imported images (faces, image quality, labels, duplicates)."""
    from tqdm import tqdm

    from service.dataset import pending_analysis, store_group_flags

    settings, database = load_settings(), service_database()
    ids = pending_analysis(database, limit)
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    with tqdm(total=len(ids), unit="image", desc="flagging", file=sys.stderr) as bar:
        if local and (jobs or os.cpu_count() or 1) > 1 and len(chunks) > 1:
            _flag_in_processes(settings, chunks, bar, jobs or os.cpu_count() or 1)
        elif local:
            _flag_in_process(database, settings, chunks, bar)
        else:
            _flag_through_queue(database, chunks, bar, stall_s)
    groups = store_group_flags(database)
    found = ", ".join(f"{count} {name}" for name, count in sorted(groups.items())) or "none"
    click.echo(f"{len(ids)} image(s) analysed; dataset-wide flags: {found}. See `faceage dataset list`.")


def _flag_in_process(database, settings, chunks, bar) -> None:
    from curation.analysis import CurationModels
    from service.dataset import analyse_chunk

    try:
        models = CurationModels.load(settings.estimator_path or None, device=settings.device)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    for chunk in chunks:
        analyse_chunk(database, chunk, models)
        bar.update(len(chunk))


def _flag_in_processes(settings, chunks, bar, jobs: int) -> None:
    """The chunks analysed by `jobs` processes, each with one model copy and cores // jobs threads.

    On 2 cores two processes of one thread are faster than one of two: MTCNN runs thousands of tiny
    operations per batch, and two threads make each of them several times slower than one does.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    # spawn, not fork: a forked copy of a process that has started torch's thread pool can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, context, initializer=_start_flag_process, initargs=(settings, threads)) as pool:
        futures = {pool.submit(_flag_chunk, chunk): len(chunk) for chunk in chunks}
        try:
            for future in as_completed(futures):
                future.result()
                bar.update(futures[future])
        except BrokenProcessPool:
            fail("a flagging process could not load the models or died; run with --jobs 1 to see why")


_flag_process: dict = {}


def _start_flag_process(settings, threads: int) -> None:
    import cv2
    import torch

    from curation.analysis import CurationModels
    from service.database import Database

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    _flag_process["database"] = Database(settings.database_url)
    _flag_process["models"] = CurationModels.load(settings.estimator_path or None, device=settings.device)


def _flag_chunk(chunk: list[int]) -> int:
    from service.dataset import analyse_chunk

    return analyse_chunk(_flag_process["database"], chunk, _flag_process["models"])


def _flag_through_queue(database, chunks, bar, stall_s: int) -> None:
    """Hand the chunks to the workers and follow their progress in the database, where they store it."""

    from kombu.exceptions import OperationalError

    from service.dataset import analysis_progress
    from worker.tasks import curate_images

    started, _ = analysis_progress(database)
    try:
        for chunk in chunks:
            curate_images.apply_async(args=[chunk])
    except OperationalError as error:
        fail(f"cannot reach the broker ({error}); start it, or use --local")
    total, done, last_change = sum(map(len, chunks)), 0, time.monotonic()
    while done < total:
        now_done = min(analysis_progress(database)[0] - started, total)
        if now_done > done:
            bar.update(now_done - done)
            done, last_change = now_done, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            fail(
                f"the workers analysed nothing for {stall_s} s ({done} of {total} done); is `faceage worker` "
                "running? Run this again to go on, or use --local"
            )
        else:
            time.sleep(1)


@dataset.command("check-labels")
@click.option(
    "--folds",
    default=3,
    show_default=True,
    type=click.IntRange(2, 10),
    help="Estimators to train, each without one fold.",
)
@click.option(
    "--epochs", default=8, show_default=True, type=click.IntRange(1, 100), help="Training epochs of each estimator."
)
@click.option("--device", default="auto", show_default=True)
def dataset_check_labels(folds: int, epochs: int, device: str) -> None:
    """Question labels with estimators that never saw the image (out-of-fold); replaces the label flags.

    Run after `faceage dataset flag` (it re-aligns the faces that pass found). Trains FOLDS small
    estimators on the dataset itself: about 10 minutes per fold for UTKFace's 23k faces on a 2-core CPU.
    """
    from tqdm import tqdm

    from aging_model.devices import pick_device
    from aging_model.estimator.age_gender import MAX_AGE, EstimatorTrainConfig
    from curation.label_check import (
        assign_folds,
        cross_fit,
        describe_group_errors,
        group_errors,
        out_of_fold_label_flags,
    )
    from service.dataset import analysis_progress, label_check_faces, store_label_check

    config = EstimatorTrainConfig(epochs=epochs)
    database = service_database()
    analysed, _ = analysis_progress(database)
    if not analysed:
        fail("no image has been analysed yet; run `faceage dataset flag` first")
    with tqdm(total=analysed, unit="image", desc="aligning", file=sys.stderr) as bar:
        faces = label_check_faces(database, config.model.resolution, on_image=lambda: bar.update(1))
    fold_of = assign_folds(faces.person_keys, folds)
    try:
        reading = cross_fit(
            faces.chips, faces.ages, faces.genders, faces.trainable, fold_of, config, str(pick_device(device))
        )
    except ValueError as error:
        fail(str(error))
    errors = group_errors(faces.ages, faces.genders, reading, MAX_AGE)
    flags = out_of_fold_label_flags(faces.ages, faces.genders, reading, errors, MAX_AGE, races=faces.races)
    counts = store_label_check(database, faces, flags, reading)
    click.echo(f"{len(faces.ids)} face(s) read out of fold by {folds} estimators; per labelled age group:")
    for group, error in describe_group_errors(errors).items():
        accuracy = "-" if error["gender_accuracy"] is None else f"{error['gender_accuracy']:.1%}"
        click.echo(
            f"  {group:>6}: {error['faces']:>6} faces, age MAE {error['age_mae']:5.1f} y, gender right {accuracy}"
        )
    click.echo(
        f"label flags: {counts.get('age_label_outlier', 0)} age_label_outlier, "
        f"{counts.get('gender_label_disagrees', 0)} gender_label_disagrees"
    )


@dataset.command("list")
@click.option("--flag", "flag_name", default=None, help="Only images with this flag (e.g. blurred, near_duplicate).")
@click.option("--status", default=None, help="Only images with this status: pending, accepted or rejected.")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="At most N images.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def dataset_list(flag_name: str | None, status: str | None, limit: int | None, as_json: bool) -> None:
    """The imported images, most suspicious first."""
    from curation.flags import ALL_FLAGS
    from service.dataset import list_images
    from service.models import DatasetImageStatus

    if flag_name is not None and flag_name not in ALL_FLAGS:
        fail(f"unknown flag {flag_name!r}; one of: {', '.join(ALL_FLAGS)}")
    if status is not None and status not in {s.value for s in DatasetImageStatus}:
        fail(f"unknown status {status!r}; one of: pending, accepted, rejected")
    rows = list_images(service_database(), flag_name, status, limit)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        flags = ", ".join(f"{f['name']} {f['score']:.1f}" for f in row["flags"]) or "-"
        click.echo(
            f"{row['id']:>7} {row['status']:<8} {row['suspicion']:5.1f}  age {_or_dash(row['age'])} "
            f"gender {_or_dash(row['gender'])}  {row['path']}  [{flags}]"
        )
    click.echo(f"{len(rows)} image(s)", err=True)


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


@dataset.command("sheet")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The contact sheet (JPEG) to write."
)
@click.option(
    "--per-flag",
    default=10,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Images per flag, highest score first.",
)
@click.option("--flag", "flag_names", multiple=True, help="Only these flags (repeatable); default: every flag raised.")
def dataset_sheet(out: Path, per_flag: int, flag_names: tuple[str, ...]) -> None:
    """A contact sheet of the top-scored images of each flag, to judge by eye how often a flag is right."""
    from curation.flags import ALL_FLAGS
    from curation.sheets import flag_contact_sheet
    from service.dataset import ImageNotFound, flag_counts, thumbnail_of, top_flagged

    def thumbnail(image_id: int) -> bytes | None:
        try:
            return thumbnail_of(db, image_id)
        except ImageNotFound:  # an unreadable file has none
            return None

    unknown = [name for name in flag_names if name not in ALL_FLAGS]
    if unknown:
        fail(f"unknown flag {unknown[0]!r}; one of: {', '.join(ALL_FLAGS)}")
    db = service_database()
    counts = flag_counts(db)
    if not counts:
        fail("no image carries a flag yet; run `faceage dataset flag` first")
    rows = {}
    for name in flag_names or counts:
        top = top_flagged(db, name, per_flag)
        rows[f"{name} {counts.get(name, 0)}"] = [
            (thumbnail(image_id), f"{score:.1f} a{_or_dash(labels['age'])} g{_or_dash(labels['gender'])}")
            for image_id, score, labels in top
        ]
    out.parent.mkdir(parents=True, exist_ok=True)
    flag_contact_sheet(rows).save(out, quality=90)
    for name, count in counts.items():
        click.echo(f"{name:<28}{count:>7}")
    click.echo(f"contact sheet: {out}")


@dataset.command("fairness")
@click.option("--flag", "flag_names", multiple=True, help="Only these flags (repeatable); default: every flag raised.")
@click.option("--markdown", is_flag=True, help="One Markdown table (groups by flags), as in docs/curation.md.")
def dataset_fairness(flag_names: tuple[str, ...], markdown: bool) -> None:
    """Each flag's rate per race label, gender and age group, with counts and a 95 % Wilson interval.

    Ends with the groups flagged above 1.5x the overall rate, for flags raised on at least 3 % of the faces:
    look at that group's flagged faces before trusting (or cleaning with) such a flag.
    """
    from curation.fairness import flag_rates, markdown_table, over_represented
    from curation.flags import ALL_FLAGS
    from service.dataset import flag_population

    unknown = [name for name in flag_names if name not in ALL_FLAGS]
    if unknown:
        fail(f"unknown flag {unknown[0]!r}; one of: {', '.join(ALL_FLAGS)}")
    faces = flag_population(service_database())
    if not faces:
        fail("no image has been analysed yet; run `faceage dataset flag` first")
    raised = [name for name in ALL_FLAGS if any(name in face.flags for face in faces)]
    table = flag_rates(faces, list(flag_names) or raised)
    if markdown:
        click.echo(markdown_table(table))
    else:
        for name, rates in table.items():
            click.echo(name)
            for r in rates:
                click.echo(
                    f"  {r.group:<16}{r.flagged:>6} of {r.faces:<6}{100 * r.rate:6.1f} %"
                    f"  (95 % CI {100 * r.low:.1f}-{100 * r.high:.1f})"
                )
    for name, rates in table.items():
        for r in over_represented(rates):
            overall = rates[0].rate
            click.echo(
                f"check {name}: {r.group} at {100 * r.rate:.1f} % is {r.rate / overall:.1f}x the overall "
                f"{100 * overall:.1f} %; look at its flagged faces (`faceage dataset list --flag {name}`)"
            )


@dataset.command("export")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The manifest CSV to write."
)
@click.option(
    "--include-unflagged",
    is_flag=True,
    help="Also pending images that were analysed and raised no flag (not only accepted ones).",
)
@click.option(
    "--include-pending-except",
    "except_flags",
    multiple=True,
    metavar="FLAG",
    help="Also pending analysed images that carry none of these flags (repeatable): an automatic cleaning "
    "before (or instead of) a review.",
)
def dataset_export(out: Path, include_unflagged: bool, except_flags: tuple[str, ...]) -> None:
    """Write the chosen images with their corrected labels as a manifest for `faceage train --manifest`."""
    from curation.flags import ALL_FLAGS
    from service.dataset import export_manifest

    unknown = [name for name in except_flags if name not in ALL_FLAGS]
    if unknown:
        fail(f"unknown flag {unknown[0]!r}; one of: {', '.join(ALL_FLAGS)}")
    if include_unflagged and except_flags:
        fail("use either --include-unflagged or --include-pending-except, not both")
    pending_unless = ALL_FLAGS if include_unflagged else (except_flags or None)
    try:
        summary = export_manifest(service_database(), out, pending_unless_flagged=pending_unless)
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    left_out = f" ({summary.without_labels} without labels left out)" if summary.without_labels else ""
    click.echo(f"{summary.written} image(s) written to {out}{left_out}")


@dataset.command("leakage")
@click.option("--fix", is_flag=True, help="Keep every listed held-out face in training from now on.")
@click.option(
    "--overrides",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The list of file names the split keeps in training (default: aging_model/split_train_overrides.txt).",
)
@click.option("--limit", default=50, show_default=True, help="Pairs to print (all are counted).")
def dataset_leakage(fix: bool, overrides: Path | None, limit: int) -> None:
    """The same person in the training and the validation split (the `same_person` rule), pair by pair.

    With --fix the held-out side of every pair goes on the list of names the split keeps in training
    (`aging_model.data.is_validation` reads it), so the validation MAE is measured on strangers to the model.
    """
    from aging_model.data import TRAIN_OVERRIDES_PATH
    from curation.leakage import held_out_with_twin, write_train_overrides
    from service.dataset import split_twins_of

    twins = split_twins_of(service_database())
    if twins is None:
        fail("no image has been analysed yet; run `faceage dataset flag` first")
    held_out = held_out_with_twin(twins)
    for twin in twins[:limit]:
        click.echo(f"{twin.validation_name}  {twin.train_name}  {twin.relative_distance:.3f}")
    click.echo(f"{len(twins)} pair(s): {len(held_out)} held-out face(s) have a training-split twin")
    if fix and held_out:
        path = overrides or TRAIN_OVERRIDES_PATH
        try:
            listed = write_train_overrides(path, held_out)
        except OSError as error:
            fail(f"cannot write {path}: {error.strerror or error}")
        click.echo(f"moved to training: {len(held_out)} face(s); {path} lists {listed}")
