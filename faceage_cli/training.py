"""`faceage train`, `train-estimator`, `train-age-judge` and `evaluate`: make and measure models."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

from aging_model.caae.config import ModelConfig, TrainConfig
from aging_model.caae.presets import PRESETS
from aging_model.renderers import RENDERER_NAMES
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
    from aging_model.caae.train import train as run_training  # here, so that --dry-run does not wait for torch

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
    from aging_model.estimator.age_gender import EstimatorTrainConfig
    from aging_model.estimator.age_gender import train_estimator as run_training

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
@click.option(
    "--judges/--no-judges",
    default=True,
    show_default=True,
    help="Also judge the served renderer on adults made young and children made old (issue 17).",
)
@click.option(
    "--judges-only",
    is_flag=True,
    help="Only the judges: no ten-group evaluation, so no landmarks of the whole dataset are needed.",
)
@click.option("--adults", default=64, show_default=True, type=click.IntRange(5, None), help="Judged held-out adults.")
@click.option(
    "--children", default=48, show_default=True, type=click.IntRange(5, None), help="Judged held-out children."
)
@click.option("--seed", default=0, show_default=True, help="Chooses the judged faces; keep it to compare runs.")
@click.option(
    "--renderer",
    default=None,
    type=click.Choice(RENDERER_NAMES),
    help="The renderer the judges measure; the pipeline's default when left out.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=Path(".cache"),
    show_default=True,
    help="Landmarks, aligned faces and descriptors of real faces, kept between runs.",
)
@click.option("--device", default="auto", show_default=True)
def evaluate(
    model_path,
    data,
    limit,
    out_dir,
    estimator_path,
    judges,
    judges_only,
    adults,
    children,
    seed,
    renderer,
    cache_dir,
    device,
) -> None:
    """Measure a model on held-out faces: age (estimator), identity (dlib), realism (Fréchet distance); and
    judge the served renderer with a second age reader, a realism classifier and head measures."""
    import shlex
    import sys
    import time

    from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
    from aging_model.evaluation.report import write_report

    began = time.monotonic()
    if not data.is_dir():
        fail(f"dataset folder not found: {data}")
    model = load_model(model_path, device)
    try:
        estimator = AgeGenderEstimator.load(estimator_path or DEFAULT_ESTIMATOR_PATH, device=str(model.device))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    command = "faceage " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    judged = None
    if judges or judges_only:
        judged = _judge(model, estimator, data, cache_dir, adults, children, seed, renderer)
    if judges_only:
        from aging_model.evaluation.judged_report import write_judged_report

        report = write_judged_report(*judged, out_dir, command)
        _echo_judged(judged[0])
        click.echo(f"Report: {report} ({time.monotonic() - began:.0f} s)")
        return
    metrics, arrays = _ten_groups(model, estimator, data, cache_dir, limit)
    if judged is not None:
        from aging_model.evaluation.judged_report import link_from_docs, model_card_section, write_sheets

        metrics["judges"] = judged[0]
        out_dir.mkdir(parents=True, exist_ok=True)
        write_sheets(judged[1], out_dir)
        section = model_card_section(judged[0], command, link_from_docs(out_dir / "report.md"))
        (out_dir / "model-card-section.md").write_text(section)
    report = write_report(metrics, arrays, out_dir, str(model_path or "default model"))
    _echo_ten_groups(metrics)
    click.echo(split_twins_line(data))
    if judged is not None:
        from aging_model.evaluation.judged_report import judged_markdown

        report.write_text(report.read_text() + "\n" + judged_markdown(judged[0]))
        _echo_judged(judged[0])
    click.echo(f"Report: {report} ({time.monotonic() - began:.0f} s)")


def split_twins_line(data: Path) -> str:
    """How many held-out faces of `data` have a training-split twin, from the embeddings `faceage dataset flag`
    stored (about 10 s for 20k adult faces on 2 busy cores); without them, how to get the number."""
    from sqlalchemy.exc import SQLAlchemyError

    from aging_model.data import index_folder, split_faces
    from curation.leakage import held_out_with_twin
    from faceage_cli.common import load_settings
    from service.database import Database
    from service.dataset import split_twins_of

    hint = "held-out faces with a training-split twin: unknown; `faceage dataset import`, `flag`, then `leakage`"
    url = load_settings().database_url
    if url.startswith("sqlite:///") and not Path(url.split("///", 1)[1]).exists():
        return hint
    database = Database(url)
    try:
        twins = split_twins_of(database)
    except SQLAlchemyError:
        return hint
    finally:
        database.dispose()
    if twins is None:
        return hint
    _, validation = split_faces(index_folder(data).faces)
    with_twin = held_out_with_twin(twins) & {f.path.name for f in validation}
    return f"held-out faces with a training-split twin: {len(with_twin)} of {len(validation)}" + (
        " (`faceage dataset leakage --fix` keeps them in training)" if with_twin else ""
    )


def _ten_groups(model, estimator, data, cache_dir, limit) -> tuple[dict, dict]:
    from aging_model.evaluation.held_out import evaluate as run_evaluation
    from aging_model.evaluation.held_out import load_held_out
    from aging_model.evaluation.identity import FaceEmbedder
    from aging_model.prototypes.aging import PrototypeAger
    from preprocessing.landmarks import DenseLandmarker

    try:
        faces = load_held_out(data, str(cache_dir), model.resolution, limit=limit)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    return run_evaluation(
        model, estimator, FaceEmbedder(), faces, ager=PrototypeAger.load(), landmarker=DenseLandmarker()
    )


def _judge(model, estimator, data, cache_dir, adults, children, seed, renderer) -> tuple[dict, dict]:
    from aging_model.evaluation.age_judge import AgeJudge
    from aging_model.evaluation.judged import evaluate_judges
    from aging_model.pipeline import AgingPipeline, PipelineSettings

    try:
        judge = AgeJudge.load()
        settings = PipelineSettings(renderer=renderer) if renderer else PipelineSettings()
        pipeline = AgingPipeline(model, settings=settings, estimator=estimator)
        return evaluate_judges(pipeline, judge, data, cache_dir, adults=adults, children=children, seed=seed)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))


def _echo_ten_groups(metrics: dict) -> None:
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


def _echo_judged(judged: dict) -> None:
    def years(value) -> str:
        return "–" if value is None else f"{value:.1f}"

    for row in judged["readings"]:
        aged, real = row["aged"], row["real"]
        click.echo(
            f"{row['set']} aimed at {row['target']}: estimator {years(aged['estimator']['mean'])} "
            f"(real {years(real['estimator']['mean'])}), judge {years(aged['judge']['mean'])} "
            f"(real {years(real['judge']['mean'])})"
        )
    for row in judged["realism"]:
        accuracy = "–" if row["accuracy"] is None else f"{row['accuracy']:.2f}"
        click.echo(f"realism, {row['set']} aimed at {row['target']}: classifier accuracy {accuracy}")
    goals = judged["goals"]
    click.echo(f"judged goals met: {sum(bool(v) for v in goals.values())} of {len(goals)}.")


@click.command("train-age-judge")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="UTKFace-style folder: the head trains on its training split and is measured on its validation split.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Weights to write; the shipped aging_model/weights/age-judge.safetensors when left out.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=Path(".cache"),
    show_default=True,
    help="dlib descriptors of the chips (about 0.1 s a face on a 2-core CPU), kept between runs.",
)
def train_age_judge(data, out, cache_dir) -> None:
    """Train the age judge that `faceage evaluate` reads aged faces with: dlib's face descriptor and a small
    head on log-age; reports its validation MAE, per age group, and how real faces of the targets read."""
    from aging_model.evaluation.age_judge import DEFAULT_AGE_JUDGE_PATH
    from aging_model.evaluation.age_judge import train_age_judge as run_training

    if not data.is_dir():
        fail(f"dataset folder not found: {data}")
    try:
        info = run_training(data, out or DEFAULT_AGE_JUDGE_PATH, cache_dir)
    except ValueError as error:
        fail(str(error))
    click.echo(json.dumps({"weights": str(out or DEFAULT_AGE_JUDGE_PATH), **info["validation"]}))
