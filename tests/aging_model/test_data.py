from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aging_model.data import index_folder, is_validation, parse_utkface_name, read_manifest, split_faces


def test_utkface_names_give_age_gender_and_race():
    face = parse_utkface_name("26_1_2_20170116174525125.jpg.chip.jpg")
    assert (face.age, face.gender, face.race, face.age_group) == (26, 1, 2, 4)


def test_a_name_without_race_still_gives_age_and_gender():
    face = parse_utkface_name("39_1_20170116174525125.jpg.chip.jpg")
    assert (face.age, face.gender, face.race) == (39, 1, None)


@pytest.mark.parametrize(
    "name",
    [
        "61_1_20170109142408075.jpg.chip",
        "x_1_0_2017.jpg.chip.jpg",
        "30_3_0_2017.jpg.chip.jpg",
        "200_0_0_2017.jpg.chip.jpg",
        "readme.jpg",
    ],
)
def test_malformed_names_are_rejected(name):
    assert parse_utkface_name(name) is None


def test_index_counts_malformed_names_instead_of_failing(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "30_0_0_20170101000000000.jpg.chip.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "not_labelled.jpg")
    (tmp_path / "notes.txt").write_text("ignored")
    index = index_folder(tmp_path)
    assert [f.age for f in index.faces] == [30]
    assert index.skipped["malformed_name"] == 1


def test_validation_split_is_fixed_by_file_name_and_about_five_percent():
    names = [f"{i}_0_0_2017{i:09d}.jpg.chip.jpg" for i in range(4000)]
    share = np.mean([is_validation(n) for n in names])
    assert 0.04 < share < 0.06
    assert [is_validation(n) for n in names[:50]] == [is_validation(n) for n in names[:50]]
    assert is_validation("/some/where/" + names[0]) == is_validation(names[0])


def test_manifest_rows_become_faces_and_bad_rows_are_counted(tmp_path):
    (tmp_path / "m.csv").write_text("path,age,gender,race\na.jpg,30,1,2\nb.jpg,x,1,0\nc.jpg,150,0,0\n/abs/d.jpg,7,0,\n")
    index = read_manifest(tmp_path / "m.csv")
    assert [(f.path, f.age, f.gender, f.race) for f in index.faces] == [
        (tmp_path / "a.jpg", 30, 1, 2),
        (Path("/abs/d.jpg"), 7, 0, None),
    ]
    assert index.skipped == {"malformed_row": 1, "label_out_of_range": 1}


def test_real_utkface_folder_indexes_with_its_known_malformed_names(utkface_dir):
    index = index_folder(utkface_dir)
    assert len(index.faces) > 23000
    assert index.skipped["malformed_name"] <= 5
    train, val = split_faces(index.faces)
    assert 0.04 < len(val) / len(index.faces) < 0.06
    assert not {f.path.name for f in train} & {f.path.name for f in val}
