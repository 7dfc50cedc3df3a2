import numpy as np
import pytest

from aging_model.age_groups import AGE_GROUPS, GROUP_CENTRES, N_AGE_GROUPS, age_condition, age_to_group


@pytest.mark.parametrize(
    "age, group",
    [
        (0, 0),
        (5, 0),
        (6, 1),
        (10, 1),
        (15, 2),
        (20, 3),
        (21, 4),
        (30, 4),
        (31, 5),
        (50, 6),
        (60, 7),
        (70, 8),
        (71, 9),
        (116, 9),
    ],
)
def test_ages_fall_in_the_papers_ten_groups(age, group):
    assert age_to_group(age) == group


def test_groups_cover_every_age_once():
    assert N_AGE_GROUPS == 10
    covered = [age for first, last in AGE_GROUPS for age in range(first, last + 1)]
    assert covered == list(range(117))


def test_condition_at_a_group_centre_is_that_groups_one_hot():
    for group, centre in enumerate(GROUP_CENTRES):
        assert np.array_equal(age_condition(centre), np.eye(N_AGE_GROUPS, dtype=np.float32)[group])


def test_condition_between_centres_interpolates_the_two_neighbours():
    halfway = (GROUP_CENTRES[5] + GROUP_CENTRES[6]) / 2
    condition = age_condition(halfway)
    assert condition[5] == pytest.approx(0.5) and condition[6] == pytest.approx(0.5)
    assert condition.sum() == pytest.approx(1.0)


def test_condition_clamps_beyond_the_first_and_last_groups():
    assert age_condition(0)[0] == 1.0
    assert age_condition(100)[-1] == 1.0
