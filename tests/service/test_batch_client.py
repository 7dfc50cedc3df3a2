"""`faceage batch` against a live server: the folder's tree comes back, failures are named, a rerun resumes."""

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from faceage_cli import main
from service.auth import create_api_key


def test_a_folder_is_aged_with_its_tree_and_a_second_run_skips_what_is_done(live_server, embedded, astronaut, tmp_path):
    _settings, database, _env = embedded
    key = create_api_key(database, "folder operator")
    photos = tmp_path / "photos"
    (photos / "trip" / "day2").mkdir(parents=True)
    Image.fromarray(astronaut).save(photos / "trip" / "astronaut.jpg", quality=95)
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(photos / "trip" / "day2" / "mirrored.png")
    (photos / "notes.jpg").write_text("not a photo")
    out = tmp_path / "out"
    args = ["batch", str(photos), "--server", live_server, "--api-key", key, "--out", str(out), "--ages", "25,65"]

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    assert "2 aged, 0 already done, 1 failed" in first.output
    assert "failed: notes.jpg: " in first.output and "not an image" in first.output
    for folder in (out / "trip" / "astronaut", out / "trip" / "day2" / "mirrored"):
        result = json.loads((folder / "result.json").read_text())
        assert [c["age"] for c in result["composites"]] == [25, 65]
        assert (folder / "photo-age-065.jpg").is_file() and (folder / "face-1" / "strip.jpg").is_file()

    second = CliRunner().invoke(main, args)
    assert "0 aged, 2 already done, 1 failed" in second.output


def test_a_wrong_key_is_reported_per_photo(live_server, astronaut, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "a.jpg")
    done = CliRunner().invoke(
        main, ["batch", str(photos), "--server", live_server, "--api-key", "fa_wrong", "--out", str(tmp_path / "o")]
    )
    assert done.exit_code == 1 and "not valid" in done.output
