"""The `faceage` command line: parses options, calls into the packages, maps user errors to exit codes.

Errors a user can cause end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import click

EXIT_PHOTO_FAILED = 1


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_PHOTO_FAILED)


def _parse_ages(_ctx, _param, value: str) -> list[float]:
    try:
        ages = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("give ages as numbers separated by commas, e.g. 5,20,40,60,80") from None
    if not ages or any(not 0 <= a <= 100 for a in ages):
        raise click.BadParameter("give one or more ages between 0 and 100, e.g. 5,20,40,60,80")
    return ages


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
def main(verbose: bool) -> None:
    """Faceage: see a face at 5, 20, 40, 60 and 80 (CAAE face aging)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("faceage-results"),
    show_default=True,
    help="Folder for the results; one subfolder per photo.",
)
@click.option(
    "--ages",
    default="5,20,40,60,80",
    show_default=True,
    callback=_parse_ages,
    help="Target ages in years, comma separated; ages between the 10 groups are interpolated.",
)
@click.option(
    "--gender",
    type=click.Choice(["auto", "male", "female"]),
    default="auto",
    show_default=True,
    help="Gender condition for the generator; auto reads each face's own with the age and gender estimator.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Serving weights (.safetensors); the shipped default model when left out.",
)
@click.option("--full-size", is_flag=True, help="Write composites at the photo's full size (default: at most 2048 px).")
@click.option(
    "--blend",
    type=click.Choice(["feather", "seamless"]),
    default="feather",
    show_default=True,
    help="How the aged face is blended into the photo.",
)
@click.option(
    "--max-faces",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Age at most this many faces per photo, largest first.",
)
@click.option(
    "--renderer",
    type=click.Choice(["prototypes", "caae"]),
    default="prototypes",
    show_default=True,
    help="prototypes: the photo's own face changed by the age prototypes (shape, skin, colour); "
    "caae: the generator's 64 px change blended with its rendering (the earlier renderer).",
)
@click.option(
    "--rendering-weight",
    default=None,
    type=click.FloatRange(0, 1),
    help="With --renderer caae: share of the generator's own face in each aged face: 0 keeps the photo's "
    "detail and identity most, 1 ages most (default 0.5).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def age(
    photos, out_dir, ages, gender, model_path, full_size, blend, max_faces, renderer, rendering_weight, device
) -> None:
    """Age the faces in PHOTOS and write crops, strips, composites and result.json per photo."""
    from tqdm import tqdm

    from aging_model.outputs import write_photo_result
    from aging_model.pipeline import AgingPipeline, PipelineSettings
    from preprocessing.errors import PhotoError

    settings = PipelineSettings(
        max_side=None if full_size else PipelineSettings.max_side,
        blend=blend,
        max_faces=max_faces,
        renderer=renderer,
    )
    if rendering_weight is not None:
        settings = dataclasses.replace(settings, rendering_weight=rendering_weight)
    model = _load_model(model_path, device)
    pipeline = AgingPipeline(model, settings=settings, estimator=_load_estimator(model.device))
    failures = 0
    used_names: set[str] = set()
    for photo in tqdm(photos, desc="photos", unit="photo", disable=len(photos) < 2, file=sys.stderr):
        try:
            result = pipeline.run(photo, ages=ages, gender=gender)
        except PhotoError as error:
            failures += 1
            tqdm.write(f"error: {photo}: {error}", file=sys.stderr)
            continue
        folder = out_dir / _unique_name(photo.stem, used_names)
        write_photo_result(result, folder, source_name=photo.name, model_card=pipeline.model.card)
        n_aged = len(result.aged_faces)
        tqdm.write(f"{photo}: {n_aged} face(s) aged -> {folder}", file=sys.stderr if len(photos) > 1 else sys.stdout)
    if failures:
        click.echo(f"{failures} of {len(photos)} photo(s) failed", err=True)
        sys.exit(EXIT_PHOTO_FAILED)


def _load_model(model_path: Path | None, device: str):
    from aging_model.inference import DEFAULT_MODEL_PATH, AgingModel

    try:
        return AgingModel.load(model_path or DEFAULT_MODEL_PATH, device=device)
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))


def _load_estimator(device):
    from aging_model.estimator import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator

    try:
        return AgeGenderEstimator.load(DEFAULT_ESTIMATOR_PATH, device=str(device))
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))


def _unique_name(stem: str, used: set[str]) -> str:
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


@main.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="UTKFace-style folder (labels in file names).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="CSV of path,age,gender[,race] to train on instead of the whole folder.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("runs/default"),
    show_default=True,
    help="Run folder; training resumes from its checkpoint when present.",
)
@click.option("--resolution", default=64, show_default=True)
@click.option("--width", default=32, show_default=True)
@click.option("--epochs", default=30, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only the first N faces (quick trials).")
@click.option("--steps-per-epoch", type=int, default=None, help="Cap the steps of each epoch (quick trials).")
@click.option("--device", default="auto", show_default=True)
def train(data, manifest, out_dir, resolution, width, epochs, batch_size, limit, steps_per_epoch, device) -> None:
    """Train a CAAE; writes samples, losses and serving weights into the run folder every epoch."""
    from aging_model.config import ModelConfig, TrainConfig
    from aging_model.train import train as run_training

    if manifest is None and not data.is_dir():
        _fail(f"dataset folder not found: {data}")
    try:
        config = TrainConfig(
            data=str(data),
            manifest=str(manifest) if manifest else None,
            out=str(out_dir),
            model=ModelConfig(resolution=resolution, width=width),
            epochs=epochs,
            batch_size=batch_size,
            limit=limit,
            max_steps_per_epoch=steps_per_epoch,
            device=device,
        )
        weights = run_training(config)
    except ValueError as error:
        _fail(str(error))
    click.echo(json.dumps({"weights": str(weights)}))


@main.group()
def prototypes() -> None:
    """Age prototypes: mean shape, skin and colour per age group and gender, which the default renderer uses."""


@prototypes.command("build")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="A UTKFace-style folder (labels in the file names); only its training split is used.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the prototypes (default: the shipped file, aging_model/weights/).",
)
@click.option(
    "--per-race",
    default=80,
    show_default=True,
    type=click.IntRange(1, None),
    help="Faces per age group, gender and race; each race weighs the same in every cell.",
)
@click.option("--seed", default=0, show_default=True)
def prototypes_build(data: Path, out: Path | None, per_race: int, seed: int) -> None:
    """Build the age prototypes from aligned training faces (about a minute on 2 cores)."""
    from aging_model.prototypes import DEFAULT_PROTOTYPES_PATH, build_prototypes, training_samples

    if not data.is_dir():
        _fail(f"no dataset folder at {data}; pass --data with a UTKFace-style folder")
    samples, skipped = training_samples(data, Path(".cache"), per_race=per_race, seed=seed)
    try:
        built = build_prototypes(samples)
    except ValueError as error:
        _fail(str(error))
    out = out or DEFAULT_PROTOTYPES_PATH
    built.save(
        out,
        card={
            "data": data.name,
            "per_race": per_race,
            "seed": seed,
            "faces": len(samples),
            "skipped": skipped,
            "counts": built.counts.tolist(),
        },
    )
    click.echo(f"{len(samples)} faces (skipped {skipped}) -> {out} ({out.stat().st_size / 1e6:.1f} MB)")


@main.command("train-estimator")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="UTKFace-style folder (labels in file names).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="CSV of path,age,gender[,race] to train on instead of the whole folder.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/estimator"), show_default=True)
@click.option("--epochs", default=10, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only the first N faces (quick trials).")
@click.option("--device", default="auto", show_default=True)
def train_estimator(data, manifest, out_dir, epochs, limit, device) -> None:
    """Train the age and gender estimator; reports its validation age MAE and gender accuracy."""
    from aging_model.estimator import EstimatorTrainConfig
    from aging_model.estimator import train_estimator as run_training

    if manifest is None and not data.is_dir():
        _fail(f"dataset folder not found: {data}")
    config = EstimatorTrainConfig(
        data=str(data),
        manifest=str(manifest) if manifest else None,
        out=str(out_dir),
        epochs=epochs,
        limit=limit,
        device=device,
    )
    try:
        weights, metrics = run_training(config)
    except ValueError as error:
        _fail(str(error))
    click.echo(json.dumps({"weights": str(weights), **metrics}))


@main.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Serving weights to evaluate; the shipped default model when left out.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="UTKFace-style folder; its validation split (by file name hash) is the held-out set.",
)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(2, None), help="Held-out faces to use.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("runs/evaluation"),
    show_default=True,
    help="Report folder: report.md, metrics.json, plots and a sample sheet.",
)
@click.option(
    "--estimator",
    "estimator_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Age and gender estimator; the shipped one when left out.",
)
@click.option("--device", default="auto", show_default=True)
def evaluate(model_path, data, limit, out_dir, estimator_path, device) -> None:
    """Measure a model on held-out faces: age (estimator), identity (dlib), realism (Fréchet distance)."""
    from aging_model.estimator import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
    from aging_model.evaluation import evaluate as run_evaluation
    from aging_model.evaluation import load_held_out
    from aging_model.evaluation_report import write_report
    from aging_model.identity import FaceEmbedder
    from aging_model.prototype_aging import PrototypeAger
    from preprocessing.landmarks import DenseLandmarker

    if not data.is_dir():
        _fail(f"dataset folder not found: {data}")
    model = _load_model(model_path, device)
    try:
        estimator = AgeGenderEstimator.load(estimator_path or DEFAULT_ESTIMATOR_PATH, device=str(model.device))
        faces = load_held_out(data, ".cache", model.resolution, limit=limit)
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))
    metrics, arrays = run_evaluation(
        model, estimator, FaceEmbedder(), faces, ager=PrototypeAger.load(), landmarker=DenseLandmarker()
    )
    report = write_report(metrics, arrays, out_dir, str(model_path or "default model"))
    click.echo(f"{metrics['faces']} held-out faces.")
    for name, part, goals in (
        ("generator output", "model", "goals"),
        ("as served", "served", "goals_served"),
        ("as served, caae renderer", "served_caae", "goals_served_caae"),
    ):
        age, identity = metrics[part]["age"], metrics[part]["identity"]
        click.echo(
            f"{name}: rank correlation {age['mean_rank_correlation']:.2f}, "
            f"reconstruction same person {identity['reconstruction_same_person_share']:.0%}, "
            f"±2 groups same person {identity['two_groups_same_person_share']:.0%}"
            + (f", fine detail kept {metrics[part]['detail_ratio']:.0%}" if "detail_ratio" in metrics[part] else "")
            + "; goals met: "
            f"{sum(metrics[goals].values())} of {len(metrics[goals])}."
        )
    click.echo(f"Report: {report}")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--server", required=True, help="The Faceage server, e.g. http://127.0.0.1:8000")
@click.option(
    "--api-key", required=True, envvar="FACEAGE_API_KEY", help="An API key (faceage apikey create); or FACEAGE_API_KEY."
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Results, in the folder's own tree."
)
@click.option("--ages", default=None, help="Target ages, comma separated (the server's default when left out).")
@click.option("--gender", type=click.Choice(["auto", "male", "female"]), default="auto", show_default=True)
@click.option(
    "--concurrency", default=4, show_default=True, type=click.IntRange(1, 32), help="Photos in flight at once."
)
def batch(folder, server, api_key, out_dir, ages, gender, concurrency) -> None:
    """Age every photo in FOLDER through a Faceage server; run again to resume."""
    from tqdm import tqdm

    from service.batch_client import BatchClient

    client = BatchClient(server, api_key, out_dir, ages=ages, gender=gender)
    photos = client.photos(folder)
    if not photos:
        _fail(f"no photos in {folder} (looked for {', '.join(sorted({'.jpg', '.png', '.heic', '.webp'}))}...)")
    with tqdm(total=len(photos), unit="photo", desc="aging", file=sys.stderr) as bar:
        outcomes = client.run(folder, concurrency=concurrency, progress=lambda outcome: bar.update(1))
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    click.echo(f"{counts['done']} aged, {counts['skipped']} already done, {counts['failed']} failed -> {out_dir}")
    for outcome in failed:
        click.echo(f"failed: {outcome.path}: {outcome.message}", err=True)
    if failed:
        sys.exit(EXIT_PHOTO_FAILED)


@main.group()
def db() -> None:
    """The service's database (FACEAGE_DATABASE_URL; SQLite under FACEAGE_DATA_DIR by default)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (safe to run again)."""
    from service.database import Database

    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    click.echo(f"database at the newest schema: {_redacted(settings.database_url)}")


@main.group()
def apikey() -> None:
    """API keys for operators (Authorization: Bearer KEY)."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key called NAME; the key is printed once, alone on the last line, and stored only hashed."""
    from service.auth import create_api_key

    key = create_api_key(_service_database(), name)
    click.echo(f"API key {name!r} created. Keep it now: it is not stored and cannot be shown again.")
    click.echo(key)


@main.group()
def reviewer() -> None:
    """Accounts for the dataset review page (/review)."""


@reviewer.command("create")
@click.argument("name")
def reviewer_create(name: str) -> None:
    """Create a reviewer called NAME; the password is printed once, alone on the last line, and stored only hashed."""
    from service.auth import create_reviewer

    try:
        password = create_reviewer(_service_database(), name)
    except ValueError as error:
        _fail(str(error))
    click.echo(
        f"Reviewer {name.strip()!r} created; sign in at /review/login. "
        "Keep the password now: it is not stored and cannot be shown again."
    )
    click.echo(password)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve the web app only (workers run elsewhere).")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Run Faceage on this machine: the web app and a Celery worker, with SQLite and no server to install."""
    from werkzeug.serving import make_server

    from service.app import create_app
    from service.database import Database

    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    # A service manager stops us with SIGTERM: end exactly as Ctrl+C does, taking the worker along.
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor = None
    try:
        if not no_worker:
            supervisor = _supervised_worker(settings)
            _wait_until_ready(database, since=supervisor.started_at)
        server = make_server(host, port, create_app(settings), threaded=True)
        click.echo(f"Faceage is running: open http://{host}:{server.server_port}/ in your browser (Ctrl+C stops it)")
        try:
            server.serve_forever()
        finally:
            server.server_close()
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop(grace_s=60.0)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _supervised_worker(settings):
    """The worker, started again (after 1 s, then 2, 4 ... up to a minute) whenever it dies."""
    from worker.supervisor import Supervisor

    def say(code, pause):
        click.echo(f"The worker stopped (exit status {code}); starting it again in {pause:.0f} s.", err=True)

    return Supervisor([sys.executable, *_worker_argv(settings, concurrency=_one_per_core())], on_restart=say).start()


def _one_per_core(most: int = 4) -> int:
    """Worker processes for this machine: one per core (each with one thread), up to `most` (each process holds
    its own copy of the models, about 0.6 GB)."""

    return max(1, min(most, os.cpu_count() or 1))


def _wait_until_ready(database, since, timeout_s: float = 300.0) -> None:
    """Give the address only once a worker has loaded its models, so that the first photo is as fast as the rest."""

    from service import workers

    click.echo("Starting the worker (loading the models)...")
    deadline = time.monotonic() + timeout_s
    while not workers.ready_since(database, since):
        if time.monotonic() > deadline:
            click.echo(f"The worker is not ready after {timeout_s:.0f} s; serving anyway (see /healthz).", err=True)
            return
        time.sleep(0.2)


@main.command("worker")
@click.option("--concurrency", default=1, show_default=True, help="Worker processes (each loads the model once).")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run the scheduler of the periodic cleanup (one worker of a deployment is enough).",
)
def worker_command(concurrency: int, beat: bool) -> None:
    """Run a Celery worker for the aging queue, in the foreground."""

    os.execvp(sys.executable, [sys.executable, *_worker_argv(_settings(), concurrency, beat)])


def _worker_argv(settings, concurrency: int = 1, beat: bool = True) -> list[str]:
    argv = [
        "-m",
        "celery",
        "-A",
        "worker.celery_app:celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--queues",
        "faceage",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        schedule = Path(settings.data_dir) / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", "--schedule", str(schedule)]
    return argv


@main.group()
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
        _fail(f"dataset folder not found: {folder}")
    table = _label_table(labels_csv) if labels_csv else None
    files = dataset_files(folder)
    if not files:
        _fail(f"no images in {folder} (looked for .jpg, .jpeg, .png, .webp)")
    database = _service_database()
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
        _fail(f"labels file not found: {labels_csv}")
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as error:
        _fail(f"cannot read labels from {labels_csv}: {error}")


@dataset.command("flag")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Analyse at most N images not analysed yet.")
@click.option("--local", is_flag=True, help="Compute in this process instead of through the workers' queue.")
@click.option(
    "--chunk-size", default=64, show_default=True, type=click.IntRange(1, 1000), help="Images per worker task."
)
@click.option(
    "--stall-s",
    default=300,
    show_default=True,
    type=click.IntRange(1, None),
    help="Give up when the workers analyse nothing for this long.",
)
def dataset_flag(limit: int | None, local: bool, chunk_size: int, stall_s: int) -> None:
    """Flag what is suspicious in the imported images (faces, image quality, labels, duplicates)."""
    from tqdm import tqdm

    from service.dataset import pending_analysis, store_group_flags

    settings, database = _settings(), _service_database()
    ids = pending_analysis(database, limit)
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    with tqdm(total=len(ids), unit="image", desc="flagging", file=sys.stderr) as bar:
        if local:
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
        _fail(str(error))
    for chunk in chunks:
        analyse_chunk(database, chunk, models)
        bar.update(len(chunk))


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
        _fail(f"cannot reach the broker ({error}); start it, or use --local")
    total, done, last_change = sum(map(len, chunks)), 0, time.monotonic()
    while done < total:
        now_done = min(analysis_progress(database)[0] - started, total)
        if now_done > done:
            bar.update(now_done - done)
            done, last_change = now_done, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            _fail(
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

    from aging_model.estimator import MAX_AGE, EstimatorTrainConfig
    from aging_model.inference import pick_device
    from curation.label_check import (
        assign_folds,
        cross_fit,
        describe_group_errors,
        group_errors,
        out_of_fold_label_flags,
    )
    from service.dataset import analysis_progress, label_check_faces, store_label_check

    config = EstimatorTrainConfig(epochs=epochs)
    database = _service_database()
    analysed, _ = analysis_progress(database)
    if not analysed:
        _fail("no image has been analysed yet; run `faceage dataset flag` first")
    with tqdm(total=analysed, unit="image", desc="aligning", file=sys.stderr) as bar:
        faces = label_check_faces(database, config.model.resolution, on_image=lambda: bar.update(1))
    fold_of = assign_folds(faces.person_keys, folds)
    try:
        reading = cross_fit(
            faces.chips, faces.ages, faces.genders, faces.trainable, fold_of, config, str(pick_device(device))
        )
    except ValueError as error:
        _fail(str(error))
    errors = group_errors(faces.ages, faces.genders, reading, MAX_AGE)
    flags = out_of_fold_label_flags(faces.ages, faces.genders, reading, errors, MAX_AGE)
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
        _fail(f"unknown flag {flag_name!r}; one of: {', '.join(ALL_FLAGS)}")
    if status is not None and status not in {s.value for s in DatasetImageStatus}:
        _fail(f"unknown status {status!r}; one of: pending, accepted, rejected")
    rows = list_images(_service_database(), flag_name, status, limit)
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
        _fail(f"unknown flag {unknown[0]!r}; one of: {', '.join(ALL_FLAGS)}")
    db = _service_database()
    counts = flag_counts(db)
    if not counts:
        _fail("no image carries a flag yet; run `faceage dataset flag` first")
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
        _fail(f"unknown flag {unknown[0]!r}; one of: {', '.join(ALL_FLAGS)}")
    if include_unflagged and except_flags:
        _fail("use either --include-unflagged or --include-pending-except, not both")
    pending_unless = ALL_FLAGS if include_unflagged else (except_flags or None)
    try:
        summary = export_manifest(_service_database(), out, pending_unless_flagged=pending_unless)
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror or error}")
    left_out = f" ({summary.without_labels} without labels left out)" if summary.without_labels else ""
    click.echo(f"{summary.written} image(s) written to {out}{left_out}")


def _service_database():
    """The service's database at the newest schema; a one-line error when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.database import Database

    settings = _settings()
    database = Database(settings.database_url)
    try:
        database.upgrade()
    except SQLAlchemyError as error:
        _fail(f"cannot open the database at {_redacted(settings.database_url)}: {error.__class__.__name__}")
    return database


def _settings():
    from service.config import Settings

    try:
        return Settings.from_env()
    except ValueError as error:
        _fail(str(error))


def _redacted(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
