"""`faceage age` and `faceage prototypes`: age photos on this machine, build the age prototypes."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from aging_model.renderers import RENDERER_NAMES
from faceage_cli.common import EXIT_PHOTO_FAILED, fail, parse_ages


@click.command()
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
    callback=parse_ages,
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
    type=click.Choice(RENDERER_NAMES),
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
@click.option(
    "--animate",
    is_flag=True,
    help="Also write each face's life from 0 to 100 (face-N/lifespan.mp4 and .gif, 41 frames, the age on each) "
    "and the whole photo's (lifespan-photo.mp4).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def age(
    photos, out_dir, ages, gender, model_path, full_size, blend, max_faces, renderer, rendering_weight, animate, device
) -> None:
    """Age the faces in PHOTOS and write crops, strips, composites and result.json per photo."""
    from tqdm import tqdm

    from aging_model.media.animation import lifespan_ages
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
    model = load_model(model_path, device)
    pipeline = AgingPipeline(model, settings=settings, estimator=load_estimator(model.device))
    failures = 0
    used_names: set[str] = set()
    for photo in tqdm(photos, desc="photos", unit="photo", disable=len(photos) < 2, file=sys.stderr):
        try:
            result = pipeline.run(photo, ages=ages, gender=gender)
        except PhotoError as error:
            failures += 1
            tqdm.write(f"error: {photo}: {error}", file=sys.stderr)
            continue
        # The same detection and alignment again, at every age of the animation (the faces come in the same order).
        lifespan = pipeline.run(photo, ages=lifespan_ages(), gender=gender) if animate else None
        folder = out_dir / _unique_name(photo.stem, used_names)
        write_photo_result(result, folder, source_name=photo.name, model_card=pipeline.model.card, lifespan=lifespan)
        left_out = [code for face in result.faces for code in face.left_out]
        said = f"{len(result.aged_faces)} face(s) aged"
        if left_out:  # result.json has each one's reason in a sentence
            said += f", {len(result.faces) - len(result.aged_faces)} left out ({', '.join(sorted(set(left_out)))})"
        tqdm.write(f"{photo}: {said} -> {folder}", file=sys.stderr if len(photos) > 1 else sys.stdout)
    if failures:
        click.echo(f"{failures} of {len(photos)} photo(s) failed", err=True)
        sys.exit(EXIT_PHOTO_FAILED)


def load_model(model_path: Path | None, device: str):
    from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel

    try:
        return AgingModel.load(model_path or DEFAULT_MODEL_PATH, device=device)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))


def load_estimator(device):
    from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator

    try:
        return AgeGenderEstimator.load(DEFAULT_ESTIMATOR_PATH, device=str(device))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))


def _unique_name(stem: str, used: set[str]) -> str:
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


@click.group()
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
    from aging_model.prototypes.age_prototypes import DEFAULT_PROTOTYPES_PATH, build_prototypes, training_samples

    if not data.is_dir():
        fail(f"no dataset folder at {data}; pass --data with a UTKFace-style folder")
    samples, skipped = training_samples(data, Path(".cache"), per_race=per_race, seed=seed)
    try:
        built = build_prototypes(samples)
    except ValueError as error:
        fail(str(error))
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


@click.command()
@click.argument("photo_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("photo_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--age", type=click.FloatRange(0, 100), default=40.0, show_default=True, help="The age of both.")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("morph"), show_default=True
)
@click.option("--gender", type=click.Choice(["auto", "male", "female"]), default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def morph(photo_a: Path, photo_b: Path, age: float, out_dir: Path, gender: str, device: str) -> None:
    """Morph the largest face of PHOTO_A into that of PHOTO_B, both at one age: morph.mp4, morph.gif and
    morph-strip.jpg in --out."""
    from aging_model.media.morph import faces_to_morph, morph_outputs
    from aging_model.pipeline import AgingPipeline
    from preprocessing.errors import PhotoError

    model = load_model(None, device)
    pipeline = AgingPipeline(model, estimator=load_estimator(model.device))
    try:
        a, b = faces_to_morph(pipeline, photo_a, photo_b, age, gender)
    except PhotoError as error:
        fail(str(error))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in morph_outputs(a, b, age).items():
        (out_dir / name).write_bytes(content)
    click.echo(f"{photo_a.name} -> {photo_b.name} at {age:g}: {out_dir / 'morph.mp4'}, morph.gif, morph-strip.jpg")
