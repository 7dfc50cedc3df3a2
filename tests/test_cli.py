"""`faceage age` and `faceage train` as a user runs them: a real process, real photos, files on disk, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FACEAGE = [str(Path(sys.executable).parent / "faceage")]


def run_faceage(*args, cwd=None):
    return subprocess.run([*FACEAGE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(astronaut).save(folder / "astronaut.jpg", quality=95)
    (folder / "notes.jpg").write_text("this is not a photo")
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(folder / "wall.png")
    data = (folder / "astronaut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 3])
    return folder


def test_age_writes_crops_strip_composites_and_result_json(photos, tmp_path):
    done = run_faceage(
        "age", str(photos / "astronaut.jpg"), "--out", str(tmp_path), "--ages", "5,40,80", "--gender", "female"
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "astronaut"
    result = json.loads((folder / "result.json").read_text())
    [face] = result["faces"]
    assert face["usable"] and face["quality"]["detection_probability"] > 0.9
    assert 20 < face["estimated_age"] < 60 and face["gender_condition_female"] == 1.0  # --gender female
    assert [entry["age"] for entry in face["files"]["ages"]] == [5, 40, 80]
    for relative in [face["files"]["aligned"], face["files"]["strip"], *(e["file"] for e in face["files"]["ages"])]:
        assert (folder / relative).is_file()
    assert [c["age"] for c in result["composites"]] == [5, 40, 80]
    composite = Image.open(folder / result["composites"][0]["file"])
    assert composite.size == (512, 512) and not composite.getexif()
    assert set(result["timings_s"]) >= {"load", "detect", "align", "age", "paste"}


def test_bad_photos_fail_with_one_line_each_and_the_good_one_is_still_aged(photos, tmp_path):
    names = ["notes.jpg", "astronaut.jpg", "wall.png", "cut.jpg", "missing.jpg"]
    done = run_faceage("age", *(str(photos / n) for n in names), "--out", str(tmp_path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 4
    assert any("notes.jpg" in e and "not an image" in e for e in errors)
    assert any("wall.png" in e and "no face" in e for e in errors)
    assert any("cut.jpg" in e and "truncated" in e for e in errors)
    assert any("missing.jpg" in e and "not found" in e for e in errors)
    assert (tmp_path / "astronaut" / "result.json").is_file()
    assert "4 of 5 photo(s) failed" in done.stderr


def test_gender_auto_is_the_default_and_reads_the_face(photos, tmp_path):
    done = run_faceage("age", str(photos / "astronaut.jpg"), "--out", str(tmp_path), "--ages", "70")
    assert done.returncode == 0, done.stderr
    [face] = json.loads((tmp_path / "astronaut" / "result.json").read_text())["faces"]
    assert face["gender_condition_female"] == face["estimated_female_probability"] > 0.5


def test_a_model_that_is_not_one_is_refused_in_one_line(photos, tmp_path):
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"garbage")
    done = run_faceage("age", str(photos / "astronaut.jpg"), "--model", str(fake), "--out", str(tmp_path))
    assert (
        done.returncode == 1 and done.stderr.strip().startswith("error:") and len(done.stderr.strip().splitlines()) == 1
    )


def test_the_earlier_caae_renderer_can_be_chosen_and_differs_from_the_default(photos, tmp_path):
    for renderer in ("prototypes", "caae"):
        done = run_faceage(
            "age",
            str(photos / "astronaut.jpg"),
            "--out",
            str(tmp_path / renderer),
            "--ages",
            "80",
            "--renderer",
            renderer,
        )
        assert done.returncode == 0, done.stderr
    default, caae = (
        np.asarray(Image.open(tmp_path / r / "astronaut" / "face-1" / "age-080.png")).astype(int)
        for r in ("prototypes", "caae")
    )
    assert default.shape == caae.shape and np.abs(default - caae).mean() > 3
    refused = run_faceage("age", str(photos / "astronaut.jpg"), "--renderer", "magic")
    assert refused.returncode != 0 and "magic" in refused.stderr and "Traceback" not in refused.stderr


def test_building_prototypes_without_a_dataset_says_what_to_pass(tmp_path):
    done = run_faceage(
        "prototypes", "build", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "p.safetensors")
    )
    assert done.returncode == 1 and "--data" in done.stderr and "Traceback" not in done.stderr


def test_animate_writes_each_faces_lifespan_and_the_photos(photos, tmp_path):
    from aging_model.media.animation import frames_and_seconds

    done = run_faceage("age", str(photos / "astronaut.jpg"), "--out", str(tmp_path), "--ages", "40", "--animate")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "astronaut"
    result = json.loads((folder / "result.json").read_text())
    assert result["lifespan"]["ages"][0] == 0 and result["lifespan"]["ages"][-1] == 100
    [face] = result["faces"]
    for name in (face["files"]["lifespan"]["mp4"], face["files"]["lifespan"]["gif"], result["lifespan"]["photo"]):
        frames, seconds = frames_and_seconds((folder / name).read_bytes())
        assert frames == 41 and 4.0 <= seconds <= 4.2, name


def test_morph_writes_a_video_a_gif_and_a_strip_and_refuses_a_photo_without_a_face(photos, tmp_path):
    obama = Path(__file__).resolve().parents[1] / "docs" / "obama.jpg"
    done = run_faceage("morph", str(photos / "astronaut.jpg"), str(obama), "--age", "60", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"morph.mp4", "morph.gif", "morph-strip.jpg"}
    refused = run_faceage("morph", str(photos / "wall.png"), str(obama), "--out", str(tmp_path / "no"))
    assert refused.returncode == 1 and refused.stderr.startswith("error:") and "Traceback" not in refused.stderr


def _train_config(*args):
    done = run_faceage("train", *args, "--dry-run")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_train_builds_its_config_from_defaults_preset_file_and_given_options_each_over_the_last(tmp_path):
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps({"epochs": 7, "lr": 0.001, "model": {"width": 16}}))
    config = _train_config("--preset", "paper-128", "--config", str(run_json), "--epochs", "3")
    assert config["epochs"] == 3  # the command line over the file
    assert config["lr"] == 0.001 and config["model"]["width"] == 16  # the file over the preset
    assert config["batch_size"] == 100 and config["model"]["resolution"] == 128  # the preset over the defaults
    assert config["tv_weight"] == 1e-4 and config["device"] == "auto"  # the defaults where no layer speaks


def test_train_options_left_at_their_defaults_do_not_hide_the_presets_values():
    config = _train_config("--preset", "smoke", "--out", "runs/mine")
    assert (config["epochs"], config["model"]["resolution"], config["out"]) == (1, 32, "runs/mine")


def test_train_lists_its_presets_one_a_line():
    done = run_faceage("train", "--list-presets")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[:3]] == ["shipped", "paper-128", "smoke"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"epoch": 3}', "unknown field 'epoch' (did you mean 'epochs'?)"),
        ('{"batch_size": "64"}', 'batch_size must be an integer, got "64"'),
        ("{epochs: 3}", "Expecting property name"),
        (None, "config file not found"),
    ],
)
def test_a_bad_config_file_fails_in_one_line(tmp_path, content, message):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    done = run_faceage("train", "--config", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr


def test_training_without_its_dataset_says_so_in_one_line(tmp_path):
    done = run_faceage("train", "--preset", "smoke", "--data", str(tmp_path / "missing"))
    assert done.returncode == 1 and done.stderr.strip() == f"error: dataset folder not found: {tmp_path / 'missing'}"
