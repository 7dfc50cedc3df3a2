"""How the service reads the options sent with a photo or a batch: ages and gender (service/jobs.py)."""

import pytest

from service.config import Settings
from service.jobs import RequestError, parse_ages, parse_gender

SETTINGS = Settings(default_ages=(10.0, 30.0))


@pytest.mark.parametrize(
    "raw, ages",
    [
        (None, [10.0, 30.0]),  # not sent: the settings' default ages
        ("", [10.0, 30.0]),
        ("   ", [10.0, 30.0]),
        ("40", [40.0]),
        ("5,20,40,60,80", [5.0, 20.0, 40.0, 60.0, 80.0]),
        (" 5 , 20 ,", [5.0, 20.0]),  # spaces and a trailing comma are forgiven
        ("0,100", [0.0, 100.0]),  # both ends are in range
        ("12.5", [12.5]),
        ("80,5", [80.0, 5.0]),  # in the order asked
        (",".join(["30"] * 20), [30.0] * 20),  # twenty is the most
    ],
)
def test_ages_are_numbers_separated_by_commas_and_default_to_the_settings(raw, ages):
    assert parse_ages(raw, SETTINGS) == ages


@pytest.mark.parametrize(
    "raw",
    [
        "5,old",
        "forty",
        "5;20",
        "5 20",
        ",",
        "-1",
        "100.5",
        "500",
        "nan",
        "inf",
        ",".join(["30"] * 21),
    ],
)
def test_other_ages_are_refused_with_an_example_of_what_to_send(raw):
    with pytest.raises(RequestError) as refused:
        parse_ages(raw, SETTINGS)
    assert (refused.value.code, refused.value.status) == ("bad_ages", 400)
    assert "5,20,40,60,80" in refused.value.message


@pytest.mark.parametrize(
    "raw, gender",
    [(None, "auto"), ("", "auto"), ("auto", "auto"), ("male", "male"), ("female", "female"), (" Female ", "female")],
)
def test_a_gender_is_auto_male_or_female_in_any_case(raw, gender):
    assert parse_gender(raw) == gender


@pytest.mark.parametrize("raw", ["x", "m", "f", "woman", "male,female", "none"])
def test_another_gender_is_refused_with_the_choices(raw):
    with pytest.raises(RequestError) as refused:
        parse_gender(raw)
    assert (refused.value.code, refused.value.status) == ("bad_gender", 400)
    assert "auto, male or female" in refused.value.message
