"""The dataset being curated, in the database: import, flag, group, label checks, export, the worker's task."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from dataset_support import CURATION_TABLES, _flag_names, _images, _import, _jpeg
from PIL import Image
from sqlalchemy import inspect, select

from aging_model.data import read_manifest
from curation.flags import ALL_FLAGS
from curation.labels import read_label_csv
from service import dataset
from service.models import Base, DatasetFlag, DatasetImage, ReviewDecision


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
