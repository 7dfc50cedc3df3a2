"""`faceage explore ...`: build the explorer's shipped files, and sample or render codes from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click

from faceage_cli.aging import load_estimator, load_model
from faceage_cli.common import fail

_DATA_OPTION = click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("../shared/datasets/utkface"),
    show_default=True,
    help="A UTKFace-style folder (labels in the file names); only its training split is used.",
)
_FACES_OPTION = click.option(
    "--faces",
    default=3000,
    show_default=True,
    type=click.IntRange(10, None),
    help="Training faces drawn at random.",
)
_SEED_OPTION = click.option("--seed", default=0, show_default=True, help="Which faces are drawn.")
_MODEL_OPTION = click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Serving weights (.safetensors); the shipped default model when left out.",
)
_CACHE_OPTION = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=Path(".cache"),
    show_default=True,
    help="Landmarks and aligned faces, shared with training runs.",
)


@click.group()
def explore() -> None:
    """The latent-space explorer: named directions, best-of-N ranking, codes rendered as faces."""


def _training_sample(data: Path, cache_dir: Path, faces: int, seed: int, model):
    from aging_model.explore.building import load_training_sample

    if not data.is_dir():
        fail(f"no dataset folder at {data}; pass --data with a UTKFace-style folder")
    try:
        return load_training_sample(data, cache_dir, faces, seed, model.resolution)
    except ValueError as error:
        fail(str(error))


@explore.command("build-directions")
@_DATA_OPTION
@_FACES_OPTION
@_SEED_OPTION
@_MODEL_OPTION
@_CACHE_OPTION
@click.option("--components", default=8, show_default=True, type=click.IntRange(1, 50))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the basis (default: the shipped file in aging_model/weights/).",
)
def build_directions(data, faces, seed, model_path, cache_dir, components, out) -> None:
    """Principal components of encoded training faces' codes, named by what they go with (a few minutes)."""
    from aging_model.caae.inference import DEFAULT_MODEL_PATH
    from aging_model.explore.building import build_directions as build
    from aging_model.explore.directions import DEFAULT_DIRECTIONS_PATH, save_directions

    model = load_model(model_path, "cpu")
    sample = _training_sample(data, cache_dir, faces, seed, model)
    directions = build(model, load_estimator("cpu"), sample, model_path or DEFAULT_MODEL_PATH, components)
    out = out or DEFAULT_DIRECTIONS_PATH
    save_directions(out, directions)
    for index, direction in enumerate(directions.directions):
        evidence = f"r = {direction.correlation:.2f}" if direction.correlation is not None else "nothing measured"
        click.echo(f"{index + 1}. {direction.name} ({evidence}): {direction.lower} <-> {direction.higher}")
    click.echo(f"{len(sample.names)} faces -> {out}")


@explore.command("calibrate-ranking")
@_DATA_OPTION
@_FACES_OPTION
@_SEED_OPTION
@_MODEL_OPTION
@_CACHE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the realism reference (default: the shipped file in aging_model/weights/).",
)
def calibrate_ranking(data, faces, seed, model_path, cache_dir, out) -> None:
    """MTCNN face logits of reconstructed training faces: what best-of-N's realism is measured against."""
    from aging_model.caae.inference import DEFAULT_MODEL_PATH
    from aging_model.explore.building import calibrate_realism
    from aging_model.explore.explorer import DISPLAY_SIZE
    from aging_model.explore.ranking import DEFAULT_REALISM_PATH
    from preprocessing.detection import FaceDetector

    model = load_model(model_path, "cpu")
    sample = _training_sample(data, cache_dir, faces, seed, model)
    detector = FaceDetector(min_face_px=DISPLAY_SIZE * 3 // 8)
    reference = calibrate_realism(model, detector, sample, model_path or DEFAULT_MODEL_PATH)
    out = out or DEFAULT_REALISM_PATH
    reference.save(out)
    median = reference.quantiles[len(reference.quantiles) // 2]
    click.echo(f"{reference.card['faces']} faces, median face logit {median:.2f} -> {out}")


def _explorer():
    from aging_model.explore.explorer import FaceExplorer

    try:
        return FaceExplorer.load()
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))


@explore.command("sample")
@click.option("--n", "count", default=8, show_default=True, type=click.IntRange(1, 32))
@click.option("--age", default=40.0, show_default=True, type=click.FloatRange(0, 100))
@click.option("--gender", type=click.Choice(["male", "female"]), default="female", show_default=True)
@click.option("--seed", default=0, show_default=True)
def sample(count, age, gender, seed) -> None:
    """N faces drawn from the prior and ranked, best first, as JSON (the API's /explore/sample)."""
    ranked = _explorer().best_of(count, age, gender, seed)
    faces = [{"code": face.code, "score": round(face.judgement.score, 4)} for face in ranked]
    click.echo(json.dumps({"seed": seed, "faces": faces}, indent=2))


@explore.command("render")
@click.argument("code")
@click.option("--age", default=40.0, show_default=True, type=click.FloatRange(0, 100))
@click.option("--gender", type=click.Choice(["male", "female"]), default="female", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("face.png"), show_default=True)
def render(code, age, gender, out) -> None:
    """Write the face of CODE at an age and gender as PNG (the API's /explore/face.png)."""
    explorer = _explorer()
    try:
        png = explorer.face_png(code, age, gender)
    except ValueError as error:
        fail(str(error))
    out.write_bytes(png)
    click.echo(str(out))
