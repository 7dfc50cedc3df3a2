"""Labels from UTKFace-style names and from CSVs; a malformed name says what is wrong with it."""

from pathlib import Path

import pytest

from curation.labels import LABEL_SOURCE_CSV, LABEL_SOURCE_NAME, labels_for, labels_from_name, read_label_csv


def test_a_utkface_name_gives_age_gender_and_race():
    labels = labels_from_name("26_1_2_20170116175506863.jpg.chip.jpg")
    assert (labels.age, labels.gender, labels.race, labels.source) == (26, 1, 2, LABEL_SOURCE_NAME)
    assert labels.labelled and labels.malformed is None


def test_a_name_without_race_still_has_age_and_gender():
    # UTKFace itself has a few of these, e.g. 39_1_20170116174525125.jpg.chip.jpg
    labels = labels_from_name("39_1_20170116174525125.jpg.chip.jpg")
    assert (labels.age, labels.gender, labels.race) == (39, 1, None)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("holiday.jpg", "field"),
        ("x_1_0_20170116174525125.jpg.chip.jpg", "age 'x'"),
        ("130_0_0_20170116174525125.jpg.chip.jpg", "above 116"),
        ("30_2_0_20170116174525125.jpg.chip.jpg", "gender '2'"),
        ("30_1_0_2017-01-16.jpg.chip.jpg", "does not match"),
    ],
)
def test_a_malformed_name_says_what_is_wrong(name, reason):
    labels = labels_from_name(name)
    assert not labels.labelled and reason in labels.malformed


def test_csv_labels_match_by_path_or_by_name_and_override_the_name(tmp_path):
    (tmp_path / "labels.csv").write_text(
        "path,age,gender,race\nimages/a.jpg,30,1,2\n/elsewhere/25_0_0_20170101000000000.jpg.chip.jpg,40,1,\n"
        "images/bad.jpg,old,1,0\nimages/range.jpg,200,0,0\n"
    )
    table = read_label_csv(tmp_path / "labels.csv")
    assert table.bad_rows == 2
    by_path = labels_for(tmp_path / "images" / "a.jpg", table)
    assert (by_path.age, by_path.gender, by_path.race, by_path.source) == (30, 1, 2, LABEL_SOURCE_CSV)
    by_name = labels_for(tmp_path / "25_0_0_20170101000000000.jpg.chip.jpg", table)
    assert (by_name.age, by_name.gender, by_name.race) == (40, 1, None)
    from_name = labels_for(Path("33_0_1_20170101000000000.jpg.chip.jpg"), table)
    assert (from_name.age, from_name.source) == (33, LABEL_SOURCE_NAME)


def test_a_csv_without_the_label_columns_is_refused_with_the_reason(tmp_path):
    (tmp_path / "labels.csv").write_text("file,years\na.jpg,30\n")
    with pytest.raises(ValueError, match="no path, age, gender column"):
        read_label_csv(tmp_path / "labels.csv")
