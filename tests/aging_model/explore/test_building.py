"""The explorer's files built from training faces, and codes sampled and rendered, through `faceage explore` as a user
runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from aging_model.explore.directions import load_directions
from aging_model.explore.ranking import RealismReference

FACEAGE = [str(Path(sys.executable).parent / "faceage")]


def run_faceage(*args, cwd=None):
    return subprocess.run([*FACEAGE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_build_directions_writes_a_named_basis_from_training_faces(tiny_utkface, tmp_path):
    out = tmp_path / "directions.safetensors"
    done = run_faceage(
        "explore", "build-directions", "--data", str(tiny_utkface), "--faces", "12", "--components", "3",
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    directions = load_directions(out)
    assert len(directions.directions) == 3 and directions.card["faces"] <= 12
    assert done.stdout.splitlines()[0].startswith(f"1. {directions.directions[0].name} ")
    assert (tmp_path / "cache").is_dir()  # landmarks and aligned faces cached like a training run's


def test_calibrate_ranking_writes_the_face_logits_of_reconstructed_training_faces(tiny_utkface, tmp_path):
    out = tmp_path / "realism.json"
    done = run_faceage(
        "explore", "calibrate-ranking", "--data", str(tiny_utkface), "--faces", "12",
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    reference = RealismReference.load(out)
    assert len(reference.quantiles) == 101 and reference.quantiles[50] > 5  # the astronaut's chips are faces


def test_building_without_a_dataset_says_what_to_pass(tmp_path):
    done = run_faceage("explore", "build-directions", "--data", str(tmp_path / "none"))
    assert done.returncode == 1 and "--data" in done.stderr and "Traceback" not in done.stderr


def test_sample_and_render_from_the_shell(tmp_path):
    sampled = run_faceage("explore", "sample", "--n", "3", "--age", "60", "--gender", "male", "--seed", "5")
    assert sampled.returncode == 0, sampled.stderr
    faces = json.loads(sampled.stdout)["faces"]
    assert len(faces) == 3 and [f["score"] for f in faces] == sorted((f["score"] for f in faces), reverse=True)
    out = tmp_path / "face.png"
    rendered = run_faceage("explore", "render", faces[0]["code"], "--age", "60", "--gender", "male", "--out", str(out))
    assert rendered.returncode == 0, rendered.stderr
    assert np.asarray(Image.open(out)).shape == (256, 256, 3)
    refused = run_faceage("explore", "render", "not-a-code", "--out", str(tmp_path / "x.png"))
    assert refused.returncode == 1 and "hex digits" in refused.stderr and "Traceback" not in refused.stderr
