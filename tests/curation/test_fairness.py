"""The fairness report: each flag's rate per race label, gender and age group, and the groups to look at."""

import pytest

from curation.fairness import FacePopulation, age_group, flag_rates, markdown_table, over_represented, wilson_interval


def _faces(race: int, count: int, flagged: int, flag: str = "blurred", age: int = 30, gender: int = 0):
    return [FacePopulation(age, gender, race, frozenset({flag} if i < flagged else ())) for i in range(count)]


def test_the_wilson_interval_matches_its_textbook_values_and_stays_inside_zero_and_one():
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert wilson_interval(0, 12)[0] == 0.0 and wilson_interval(0, 12)[1] == pytest.approx(0.2425, abs=1e-4)
    assert wilson_interval(12, 12)[1] == 1.0 and wilson_interval(12, 12)[0] > 0.7
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_rates_are_counted_per_race_label_gender_and_age_group():
    faces = _faces(0, 100, 2) + _faces(2, 100, 30, age=70, gender=1)
    rates = {r.group: r for r in flag_rates(faces, ["blurred"])["blurred"]}
    assert (rates["all"].flagged, rates["all"].faces) == (32, 200)
    assert (rates["race: White"].flagged, rates["race: Asian"].flagged) == (2, 30)
    assert (rates["gender: female"].flagged, rates["age: 61+"].flagged, rates["age: 16-30"].flagged) == (30, 30, 2)
    assert list(rates)[:3] == ["all", "race: White", "race: Asian"]


def test_a_group_flagged_above_one_and_a_half_times_the_overall_rate_is_named_for_a_look():
    faces = _faces(0, 100, 2) + _faces(2, 100, 30)
    named = [r.group for r in over_represented(flag_rates(faces, ["blurred"])["blurred"])]
    assert named == ["race: Asian"]


def test_a_flag_rarer_than_three_percent_is_not_compared_between_groups():
    faces = _faces(0, 200, 0) + _faces(2, 100, 5)  # 1.7 % overall, all of it on one group
    assert over_represented(flag_rates(faces, ["blurred"])["blurred"]) == []


def test_faces_without_labels_count_only_towards_all():
    faces = [FacePopulation(None, None, None, frozenset({"no_face"})), *_faces(1, 3, 0)]
    rates = {r.group: r for r in flag_rates(faces, ["no_face"])["no_face"]}
    assert rates["all"].flagged == 1 and rates["race: Black"].flagged == 0 and rates["all"].faces == 4


def test_age_groups_cover_every_age_and_the_markdown_table_has_a_row_per_group():
    assert [age_group(a) for a in (0, 15, 16, 45, 60, 61, 116)] == [
        "0-15",
        "0-15",
        "16-30",
        "31-45",
        "46-60",
        "61+",
        "61+",
    ]
    table = markdown_table(flag_rates(_faces(3, 10, 1), ["blurred", "grayscale"]))
    assert table.splitlines()[0] == "| group | faces | `blurred` | `grayscale` |"
    assert "| race: Indian | 10 | 10.0 % (1.8-40.4) 1 | 0.0 % (0.0-27.8) 0 |" in table
