"""The dataset through `faceage dataset`: import, flag (in process, through the queue, in several processes),
list, leakage between splits, export; and a sample of the real UTKFace."""

import os
from pathlib import Path

import numpy as np
import pytest
from dataset_support import _import
from PIL import Image

from aging_model.data import read_manifest
from service import dataset
from service.database import Database
from service.models import DatasetImage


def test_the_cli_imports_flags_in_process_lists_and_exports(cli, folder, tmp_path):
    imported = cli("dataset", "import", str(folder))
    assert imported.exit_code == 0, imported.output
    assert "7 new, 1 exact copies of known images" in imported.output and "2 unreadable" in imported.output
    assert "0 new" in cli("dataset", "import", str(folder)).output

    flagged = cli("dataset", "flag", "--local")
    assert flagged.exit_code == 0, flagged.output
    assert "5 image(s) analysed" in flagged.output and "1 exact_duplicate" in flagged.output

    listed = cli("dataset", "list", "--flag", "no_face", "--json")
    import json

    rows = json.loads(listed.stdout)
    assert [Path(r["path"]).name for r in rows] == ["30_0_0_20170101000000005.jpg.chip.jpg"]
    text = cli("dataset", "list", "--status", "pending")
    assert "unreadable" in text.stdout and "7 image(s)" in text.output

    exported = cli("dataset", "export", "--out", str(tmp_path / "m.csv"), "--include-unflagged")
    assert exported.exit_code == 0 and "image(s) written" in exported.output
    assert all(Path(f.path).is_file() for f in read_manifest(tmp_path / "m.csv").faces)

    sheet = cli("dataset", "sheet", "--out", str(tmp_path / "flags.jpg"), "--per-flag", "3")
    assert sheet.exit_code == 0, sheet.output
    assert "no_face" in sheet.output and "exact_duplicate" in sheet.output

    assert Image.open(tmp_path / "flags.jpg").size[0] > 150  # row titles and at least one thumbnail

    fairness = cli("dataset", "fairness", "--flag", "no_face")
    assert fairness.exit_code == 0, fairness.output
    assert "no_face" in fairness.output and "gender: male" in fairness.output and "95 % CI" in fairness.output


def test_the_cli_flags_through_the_worker_queue(cli, folder, models, monkeypatch, tmp_path):
    import worker.tasks as tasks
    from worker.celery_app import celery_app

    assert cli("dataset", "import", str(folder)).exit_code == 0
    database = Database(f"sqlite:///{(tmp_path / 'data' / 'faceage.sqlite').resolve()}")
    monkeypatch.setattr(tasks, "_database", lambda: database)
    monkeypatch.setattr(tasks, "_curation_models", lambda: models)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # the task runs where it is sent
    flagged = cli("dataset", "flag", "--chunk-size", "2", "--limit", "3")
    assert flagged.exit_code == 0, flagged.output
    assert "3 image(s) analysed" in flagged.output
    assert dataset.analysis_progress(database) == (3, 5)


def _one_person_in_both_splits(cli, tmp_path) -> tuple[str, str, list[str]]:
    """61 analysed adults in the CLI's database, two of them one person on either side of the split: (held-out
    name, training name, every name)."""
    from aging_model.data import is_validation
    from service.config import Settings

    cli("dataset", "list")  # creates the database
    names = [f"30_0_0_2017010100{i:04d}.jpg.chip.jpg" for i in range(400)]
    held_out = next(n for n in names if is_validation(n))
    trained = next(n for n in names if not is_validation(n))
    rng = np.random.default_rng(0)
    vectors = rng.normal(0, 0.62 / np.sqrt(2 * 128), (60, 128)).astype(np.float32)
    chosen = [held_out, trained, *[n for n in names if n not in (held_out, trained)][:59]]
    vectors = np.vstack([vectors[:1], vectors[:1] + 0.005, vectors[1:]])  # held_out and trained: one person
    database = Database(Settings(data_dir=str(tmp_path / "data")).database_url)
    with database.session() as session:
        session.add_all(
            DatasetImage(
                sha256=f"{i:064x}",
                source_path=f"/data/{name}",
                embedding=vector.tobytes(),
                measures={"estimated_age": 30.0},
            )
            for i, (name, vector) in enumerate(zip(chosen, vectors))
        )
    database.dispose()
    return held_out, trained, chosen


def test_the_cli_lists_one_person_in_both_splits_and_fix_keeps_them_in_training(cli, tmp_path):
    from aging_model.data import is_validation

    held_out, trained, _ = _one_person_in_both_splits(cli, tmp_path)
    listed = cli("dataset", "leakage")
    assert listed.exit_code == 0, listed.output
    assert f"{held_out}  {trained}" in listed.output
    assert "1 held-out face(s) have a training-split twin" in listed.output
    overrides = tmp_path / "overrides.txt"
    fixed = cli("dataset", "leakage", "--fix", "--overrides", str(overrides))
    assert fixed.exit_code == 0, fixed.output
    assert overrides.read_text().split() == [held_out]
    assert not is_validation(held_out, to_train=frozenset(overrides.read_text().split()))


def test_evaluate_counts_the_held_out_faces_with_a_training_split_twin(cli, tmp_path, monkeypatch):
    from aging_model.data import index_folder, split_faces
    from faceage_cli.training import split_twins_line

    monkeypatch.setenv("FACEAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FACEAGE_DATABASE_URL", "")
    assert "unknown; `faceage dataset import`" in split_twins_line(tmp_path)
    _, _, names = _one_person_in_both_splits(cli, tmp_path)
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"")
    validation = split_faces(index_folder(folder).faces)[1]
    line = split_twins_line(folder)
    assert f"held-out faces with a training-split twin: 1 of {len(validation)}" in line and "--fix" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (("dataset", "import", "/no/such/folder"), "dataset folder not found"),
        (("dataset", "list", "--flag", "ugly"), "unknown flag 'ugly'"),
        (("dataset", "list", "--status", "maybe"), "unknown status 'maybe'"),
        (("dataset", "sheet", "--out", "x.jpg"), "no image carries a flag yet"),
        (("dataset", "check-labels"), "run `faceage dataset flag` first"),
        (("dataset", "fairness"), "run `faceage dataset flag` first"),
        (("dataset", "leakage"), "run `faceage dataset flag` first"),
        (("dataset", "export", "--out", "m.csv", "--include-pending-except", "ugly"), "unknown flag 'ugly'"),
    ],
)
def test_cli_errors_are_one_line_without_a_traceback(cli, args, message):
    done = cli(*args)
    assert done.exit_code == 1
    assert done.stderr.strip().startswith("error:") and message in done.stderr and "Traceback" not in done.output


def test_a_labels_csv_without_its_columns_is_one_line_error(cli, folder, tmp_path):
    (tmp_path / "bad.csv").write_text("file,years\na.jpg,3\n")
    done = cli("dataset", "import", str(folder), "--labels", str(tmp_path / "bad.csv"))
    assert (
        done.exit_code == 1
        and "no path, age, gender column" in done.stderr
        and len(done.stderr.strip().splitlines()) == 1
    )


# --- On the real dataset ------------------------------------------------------------------------------


def test_a_sample_of_utkface_imports_and_flags_without_surprises(utkface_dir, database, models, tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    for path in dataset.dataset_files(utkface_dir)[::1000]:  # 24 images across the ages
        os.symlink(path, sample / path.name)
    summary = _import(database, sample)
    assert summary.outcomes["new"] + summary.outcomes["copy"] == len(list(sample.iterdir()))
    dataset.analyse_chunk(database, dataset.pending_analysis(database), models)
    dataset.store_group_flags(database)
    rows = dataset.list_images(database)
    assert all(row["analysed"] for row in rows if row["width"])
    # UTKFace is mostly usable faces: most of a sample raises no face flag at all.
    no_face = [r for r in rows if any(f["name"] == "no_face" for f in r["flags"])]
    assert len(no_face) <= len(rows) // 4


def test_local_flagging_in_several_processes_flags_as_one_process_does(cli, folder):
    import json

    assert cli("dataset", "import", str(folder)).exit_code == 0
    flagged = cli("dataset", "flag", "--local", "--jobs", "2", "--chunk-size", "2")
    assert flagged.exit_code == 0, flagged.output
    assert "5 image(s) analysed" in flagged.output and "1 exact_duplicate" in flagged.output
    rows = json.loads(cli("dataset", "list", "--flag", "no_face", "--json").stdout)
    assert [Path(r["path"]).name for r in rows] == ["30_0_0_20170101000000005.jpg.chip.jpg"]


def test_the_exported_manifest_trains_a_model_on_exactly_those_images(cli, folder, tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)  # the landmark cache goes to ./.cache
    assert cli("dataset", "import", str(folder)).exit_code == 0
    assert cli("dataset", "flag", "--local").exit_code == 0
    exported = cli("dataset", "export", "--out", "m.csv", "--include-pending-except", "no_face")
    chosen = {Path(f.path).name for f in read_manifest(tmp_path / "m.csv").faces}
    assert exported.exit_code == 0 and "30_0_0_20170101000000005.jpg.chip.jpg" not in chosen and len(chosen) >= 3
    trained = cli(
        "train",
        "--manifest",
        "m.csv",
        "--out",
        "run",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "2",
        "--device",
        "cpu",
    )
    assert trained.exit_code == 0, trained.output
    card = json.loads((tmp_path / "run" / "model.json").read_text())["card"]
    assert card["training_data"] == "m.csv" and 1 <= card["training_faces"] <= len(chosen)
    assert (tmp_path / "run" / "model.safetensors").stat().st_size > 1_000_000
