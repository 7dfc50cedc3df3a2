"""The dataset being curated, in the database and through `faceage dataset`: import, flag, list, export."""

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import inspect, select

from aging_model.data import read_manifest
from curation.flags import ALL_FLAGS
from curation.labels import read_label_csv
from faceage_cli import main
from service import dataset
from service.database import Database
from service.models import Base, DatasetFlag, DatasetImage, ReviewDecision

CURATION_TABLES = {"dataset_images", "dataset_flags", "review_decisions"}


def _jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def chip(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[25:225, 122:322])  # framed like a UTKFace chip


@pytest.fixture(scope="module")
def folder(tmp_path_factory, chip) -> Path:
    """A small UTKFace-style folder with the usual dirt: a copy under another label, a malformed name, a file
    that is no image, a truncated JPEG, a blurred face, a blank image, and a file that is not an image type."""
    import cv2

    root = tmp_path_factory.mktemp("utkface-like")
    face = _jpeg(chip)
    (root / "34_1_0_20170101000000001.jpg.chip.jpg").write_bytes(face)
    (root / "62_1_0_20170101000000002.jpg.chip.jpg").write_bytes(face)  # the same bytes, another age
    (root / "35_1_0_20170101000000003.jpg.chip.jpg").write_bytes(_jpeg(np.ascontiguousarray(chip[:, ::-1])))
    (root / "36_1_0_20170101000000004.jpg.chip.jpg").write_bytes(_jpeg(cv2.GaussianBlur(chip, (0, 0), 3)))
    (root / "30_0_0_20170101000000005.jpg.chip.jpg").write_bytes(_jpeg(np.full((200, 200, 3), 128, np.uint8)))
    (root / "portrait.jpg").write_bytes(_jpeg(cv2.resize(chip, (180, 180))))  # no labels in the name
    (root / "40_0_0_20170101000000006.jpg.chip.jpg").write_text("this is not a photo")
    (root / "41_0_0_20170101000000007.jpg.chip.jpg").write_bytes(face[: len(face) // 3])
    (root / "notes.txt").write_text("not an image type: never imported")
    return root


@pytest.fixture
def database(tmp_path, fresh_database) -> Database:
    db = fresh_database(f"sqlite:///{tmp_path / 'faceage.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def models():
    from curation.analysis import CurationModels

    return CurationModels.load(device="cpu")


def _import(database, folder, table=None):
    return dataset.import_files(database, dataset.dataset_files(folder), table)


def _images(database) -> dict[str, DatasetImage]:
    with database.session() as session:
        images = session.scalars(select(DatasetImage)).all()
        for image in images:
            _ = image.flags  # loaded while the session is open
        return {Path(i.source_path).name: i for i in images}


def _flag_names(image: DatasetImage) -> set[str]:
    return {f.name for f in image.flags}


def test_the_migrations_create_the_curation_tables_as_the_models_describe_them(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= CURATION_TABLES
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if CURATION_TABLES & set(str(d).split("'"))] == []


def test_import_registers_every_image_once_and_reports_the_dirt(database, folder):
    summary = _import(database, folder)
    assert summary.outcomes["new"] == 7 and summary.outcomes["copy"] == 1
    assert summary.unreadable == 2 and summary.malformed == 1 and not summary.failures
    images = _images(database)
    assert len(images) == 7  # eight image files, two of them the same bytes
    first = images["34_1_0_20170101000000001.jpg.chip.jpg"]
    assert (first.age, first.gender, first.race, first.label_source) == (34, 1, 0, "file_name")
    assert (first.width, first.height, first.status.value) == (200, 200, "pending")
    assert [c["age"] for c in first.copies] == [62] and first.copies[0]["path"].endswith("000000002.jpg.chip.jpg")
    assert Image.open(io.BytesIO(first.thumbnail)).format == "JPEG"
    not_photo = images["40_0_0_20170101000000006.jpg.chip.jpg"]
    assert not_photo.width is None and not_photo.thumbnail is None and "not_an_image" in not_photo.malformed_reason
    assert _flag_names(not_photo) == {"unreadable"}
    assert "truncated" in images["41_0_0_20170101000000007.jpg.chip.jpg"].malformed_reason
    portrait = images["portrait.jpg"]
    assert portrait.age is None and _flag_names(portrait) == {"malformed_name"} and portrait.width == 180


def test_importing_again_changes_nothing(database, folder):
    _import(database, folder)
    before = {name: (i.id, i.copies, i.age) for name, i in _images(database).items()}
    again = _import(database, folder)
    assert again.outcomes["unchanged"] == 8 and again.outcomes["new"] == again.outcomes["copy"] == 0
    assert {name: (i.id, i.copies, i.age) for name, i in _images(database).items()} == before


def test_csv_labels_replace_the_names_labels_and_mark_the_image_for_analysis_again(database, folder, tmp_path):
    _import(database, folder)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"path,age,gender,race\n{folder}/portrait.jpg,44,1,3\n{folder}/34_1_0_20170101000000001.jpg.chip.jpg,35,1,0\n"
    )
    summary = _import(database, folder, read_label_csv(labels))
    assert summary.outcomes["relabelled"] == 2
    images = _images(database)
    portrait = images["portrait.jpg"]
    assert (portrait.age, portrait.gender, portrait.race, portrait.label_source) == (44, 1, 3, "csv")
    assert portrait.malformed_reason is None and _flag_names(portrait) == set()
    assert images["34_1_0_20170101000000001.jpg.chip.jpg"].age == 35


def test_flagging_then_grouping_finds_each_problem_and_sorts_by_suspicion(database, folder, models):
    _import(database, folder)
    pending = dataset.pending_analysis(database)
    assert len(pending) == 5  # the two unreadable files are not analysed
    assert dataset.analyse_chunk(database, pending[:3], models) == 3
    assert dataset.analysis_progress(database) == (3, 5)
    dataset.analyse_chunk(database, pending[2:], models)
    assert dataset.analyse_chunk(database, pending, models) == 0  # a redelivered chunk does nothing
    groups = dataset.store_group_flags(database)
    assert groups["exact_duplicate"] == 1 and groups["same_person"] >= 2
    images = _images(database)
    original = images["34_1_0_20170101000000001.jpg.chip.jpg"]
    assert {"exact_duplicate", "same_person", "near_duplicate"} <= _flag_names(original)
    assert next(f for f in original.flags if f.name == "exact_duplicate").details["labels_differ"]
    assert "blurred" in _flag_names(images["36_1_0_20170101000000004.jpg.chip.jpg"])
    assert "no_face" in _flag_names(images["30_0_0_20170101000000005.jpg.chip.jpg"])
    assert original.embedding is not None and len(original.perceptual_hash) == 64

    listed = dataset.list_images(database)
    assert [row["suspicion"] for row in listed] == sorted((row["suspicion"] for row in listed), reverse=True)
    blurred = dataset.list_images(database, flag_name="blurred")
    assert [Path(row["path"]).name for row in blurred] == ["36_1_0_20170101000000004.jpg.chip.jpg"]


def test_grouping_again_replaces_the_earlier_duplicate_flags(database, folder, models):
    _import(database, folder)
    dataset.analyse_chunk(database, dataset.pending_analysis(database), models)
    first = dataset.store_group_flags(database)
    assert dataset.store_group_flags(database) == first
    with database.session() as session:
        stored = session.scalars(select(DatasetFlag.name).where(DatasetFlag.name == "exact_duplicate")).all()
    assert len(stored) == 1


def test_a_file_changed_after_import_is_flagged_not_judged(database, tmp_path, chip):
    folder = tmp_path / "moving"
    folder.mkdir()
    path = folder / "30_1_0_20170101000000001.jpg.chip.jpg"
    path.write_bytes(_jpeg(chip))
    _import(database, folder)
    path.write_bytes(_jpeg(chip, quality=50))
    dataset.analyse_chunk(database, dataset.pending_analysis(database), models=None)
    [image] = _images(database).values()
    assert _flag_names(image) == {"unreadable"} and "changed since it was imported" in image.flags[0].details["reason"]


def test_export_writes_accepted_images_with_corrected_labels_as_a_training_manifest(database, folder, models, tmp_path):
    _import(database, folder)
    dataset.analyse_chunk(database, dataset.pending_analysis(database), models)
    dataset.store_group_flags(database)
    images = _images(database)
    blurred = images["36_1_0_20170101000000004.jpg.chip.jpg"]
    mirrored = images["35_1_0_20170101000000003.jpg.chip.jpg"]
    dataset.review_image(database, blurred.id, "curator", "accept")
    dataset.review_image(database, blurred.id, "curator", "correct", age=40)
    dataset.review_image(database, mirrored.id, "curator", "reject")
    with database.session() as session:
        decisions = session.scalars(select(ReviewDecision).where(ReviewDecision.image_id == blurred.id)).all()
        assert [d.action for d in decisions] == ["accept", "correct"]
        assert decisions[1].before["corrected_age"] is None and decisions[1].after["corrected_age"] == 40

    manifest = tmp_path / "manifest.csv"
    summary = dataset.export_manifest(database, manifest)
    assert summary.written == 1
    index = read_manifest(manifest)
    [face] = index.faces
    assert (face.path, face.age, face.gender, face.race) == (Path(blurred.source_path), 40, 1, 0)
    with open(manifest, newline="") as handle:
        assert next(csv.reader(handle)) == ["path", "age", "gender", "race"]


def test_export_can_add_the_unflagged_pending_images_and_never_the_rejected(database, tmp_path, chip):
    folder = tmp_path / "clean"
    folder.mkdir()
    (folder / "30_1_0_20170101000000001.jpg.chip.jpg").write_bytes(_jpeg(chip))
    (folder / "31_1_0_20170101000000002.jpg.chip.jpg").write_bytes(_jpeg(np.full((200, 200, 3), 90, np.uint8)))
    _import(database, folder)
    with database.session() as session:  # as if analysed: the face clean, the wall without a face
        for image in session.scalars(select(DatasetImage)):
            image.analysed_at = image.created_at
    wall = _images(database)["31_1_0_20170101000000002.jpg.chip.jpg"]
    with database.session() as session:
        session.add(DatasetFlag(image_id=wall.id, name="no_face", score=5.0, details={}))
    assert dataset.export_manifest(database, tmp_path / "accepted.csv").written == 0
    assert dataset.export_manifest(database, tmp_path / "all.csv", pending_unless_flagged=ALL_FLAGS).written == 1
    assert [f.age for f in read_manifest(tmp_path / "all.csv").faces] == [30]
    # An automatic cleaning that drops only some flags keeps the pending images with other flags.
    assert dataset.export_manifest(database, tmp_path / "blur.csv", pending_unless_flagged=["blurred"]).written == 2
    assert dataset.export_manifest(database, tmp_path / "face.csv", pending_unless_flagged=["no_face"]).written == 1
    dataset.review_image(database, wall.id, "curator", "reject")
    assert dataset.export_manifest(database, tmp_path / "none.csv", pending_unless_flagged=[]).written == 1


def test_the_out_of_fold_label_check_reads_every_face_and_replaces_its_label_flags(database, folder, models):
    from aging_model.estimator.age_gender import MAX_AGE, EstimatorTrainConfig
    from curation.label_check import assign_folds, cross_fit, group_errors, out_of_fold_label_flags

    _import(database, folder)
    dataset.analyse_chunk(database, dataset.pending_analysis(database), models)
    with database.session() as session:  # a label flag from the shipped estimator, to be replaced
        image = session.scalars(select(DatasetImage).where(DatasetImage.source_path.like("%0003.jpg.chip.jpg"))).one()
        session.add(DatasetFlag(image_id=image.id, name="age_label_outlier", score=3.0, details={}))
    faces = dataset.label_check_faces(database, resolution=64)
    names = {Path(i.source_path).name: i for i in _images(database).values()}
    # The three faces (the blank wall has none; the portrait has no labels but is still read).
    assert len(faces.ids) == 4 and faces.chips.shape == (4, 64, 64, 3)
    assert faces.trainable.sum() == 3 and names["portrait.jpg"].id in faces.ids
    assert faces.races[faces.ids.index(names["portrait.jpg"].id)] == -1 and sorted(faces.races)[1:] == [0, 0, 0]
    folds = assign_folds([str(i) for i in faces.ids], 2)
    config = EstimatorTrainConfig(epochs=1, batch_size=1)
    reading = cross_fit(faces.chips, faces.ages, faces.genders, faces.trainable, folds, config, "cpu")
    assert np.all((reading.ages >= 0) & (reading.ages <= MAX_AGE))
    errors = group_errors(faces.ages, faces.genders, reading, MAX_AGE)
    flags = out_of_fold_label_flags(faces.ages, faces.genders, reading, errors, MAX_AGE, races=faces.races)
    dataset.store_label_check(database, faces, flags, reading)
    stored = _images(database)["35_1_0_20170101000000003.jpg.chip.jpg"]
    assert not [f for f in stored.flags if f.name == "age_label_outlier" and not f.details.get("out_of_fold")]
    assert stored.measures["out_of_fold_age"] == pytest.approx(
        float(reading.ages[faces.ids.index(stored.id)]), abs=0.01
    )
    assert "landmarks" in stored.measures  # the per-image pass's measures are kept


def test_the_worker_task_flags_a_chunk(database, folder, models, monkeypatch):
    import worker.tasks as tasks

    _import(database, folder)
    monkeypatch.setattr(tasks, "_database", lambda: database)
    monkeypatch.setattr(tasks, "_curation_models", lambda: models)
    ids = dataset.pending_analysis(database)
    assert tasks.curate_images.apply(args=[ids]).get() == len(ids)
    assert tasks.curate_images.apply(args=[ids]).get() == 0
    assert tasks.group_dataset_images.apply().get()["exact_duplicate"] == 1


# --- faceage dataset ... ------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path):
    env = {"FACEAGE_DATA_DIR": str(tmp_path / "data"), "FACEAGE_DATABASE_URL": "", "FACEAGE_DEVICE": "cpu"}
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=env, catch_exceptions=False)


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
    from PIL import Image

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


def test_a_flag_can_be_replaced_by_a_new_one_of_the_same_name(database, folder):
    """A later pass re-raising a flag (the label check after the first reading) swaps the row, no clash."""
    from curation.flags import flag

    _import(database, folder)
    image_id = next(i.id for i in _images(database).values() if i.width)
    for score in (3.0, 4.0):
        with database.session() as session:
            image = session.get(DatasetImage, image_id)
            dataset.replace_flags(session, image, [flag("age_label_outlier", score)], ["age_label_outlier"])
    stored = next(f for f in _images(database).values() if f.id == image_id)
    assert [(f.name, f.score) for f in stored.flags] == [("age_label_outlier", 4.0)] and stored.suspicion == 4.0


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
