"""`faceage train`, `faceage train-estimator` and `faceage evaluate`: make and measure models."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

from aging_model.config import ModelConfig, TrainConfig
from aging_model.presets import PRESETS
from faceage_cli.aging import load_model
from faceage_cli.common import fail


def _list_presets(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    width = max(len(name) for name in PRESETS)
    for name, preset in PRESETS.items():
        click.echo(f"{name:<{width}}  {preset.summary}")
    click.echo("The whole config of one: faceage train --preset NAME --dry-run")
    ctx.exit()


@click.command()
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default=None,
    help="Start from a named recipe (see --list-presets).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON file of TrainConfig fields (a run's config.json is one); over the preset.",
)
@click.option(
    "--list-presets",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_presets,
    help="Show the presets and exit.",
)
@click.option("--dry-run", is_flag=True, help="Print the config the run would use, as JSON, and exit.")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=TrainConfig.data,
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
    type=click.Path(path_type=Path),
    default=TrainConfig.out,
    show_default=True,
    help="Run folder; training resumes from its checkpoint when present.",
)
@click.option("--resolution", default=ModelConfig.resolution, show_default=True)
@click.option("--width", default=ModelConfig.width, show_default=True)
@click.option("--epochs", default=TrainConfig.epochs, show_default=True)
@click.option("--batch-size", default=TrainConfig.batch_size, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only the first N faces (quick trials).")
@click.option(
    "--steps-per-epoch",
    "max_steps_per_epoch",
    type=int,
    default=None,
    help="Cap the steps of each epoch (quick trials).",
)
@click.option("--device", default=TrainConfig.device, show_default=True)
def train(preset, config_file, dry_run, **options) -> None:
    """Train a CAAE; writes samples, losses and serving weights into the run folder every epoch.

    The run's config is built in layers, each over the one before: TrainConfig's defaults (shown below), the
    preset, the config file, then the options given on the command line.
    """
    try:
        config = PRESETS[preset].config() if preset else TrainConfig()
        if config_file:
            config = TrainConfig.load(config_file, base=config)
        config = config.updated(_given_settings(click.get_current_context(), options))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    if dry_run:
        click.echo(config.to_json())
        return
    if config.manifest is None and not Path(config.data).is_dir():
        fail(f"dataset folder not found: {config.data}")
    from aging_model.train import train as run_training  # here, so that --dry-run does not wait for torch

    try:
        weights = run_training(config)
    except ValueError as error:
        fail(str(error))
    click.echo(json.dumps({"weights": str(weights)}))


def _given_settings(ctx: click.Context, options: dict) -> dict:
    """The options given on the command line, as TrainConfig fields in the shape of a run's config.json;
    options left at their defaults are left out, so that they do not hide the preset's or the file's values."""
    given = {
        name: str(value) if isinstance(value, Path) else value
        for name, value in options.items()
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
    model = {name: given.pop(name) for name in ("resolution", "width") if name in given}
    return given | {"model": model}


@click.command("train-estimator")
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
        fail(f"dataset folder not found: {data}")
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
        fail(str(error))
    click.echo(json.dumps({"weights": str(weights), **metrics}))


@click.command()
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
        fail(f"dataset folder not found: {data}")
    model = load_model(model_path, device)
    try:
        estimator = AgeGenderEstimator.load(estimator_path or DEFAULT_ESTIMATOR_PATH, device=str(model.device))
        faces = load_held_out(data, ".cache", model.resolution, limit=limit)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
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
