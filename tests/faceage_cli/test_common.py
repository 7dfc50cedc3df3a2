"""What the commands share: reading --ages (faceage_cli/common.py), in process: no photo is read."""

import click
import pytest
from click.testing import CliRunner

from faceage_cli import main
from faceage_cli.common import parse_ages


@pytest.mark.parametrize(
    "value, ages",
    [
        ("40", [40.0]),
        ("5,20,40,60,80", [5.0, 20.0, 40.0, 60.0, 80.0]),
        (" 5 , 20 ,", [5.0, 20.0]),
        ("0,100", [0.0, 100.0]),
        ("12.5", [12.5]),
        ("80,5", [80.0, 5.0]),
    ],
)
def test_ages_are_numbers_separated_by_commas(value, ages):
    assert parse_ages(None, None, value) == ages


@pytest.mark.parametrize(
    "value, message",
    [
        ("5,old", "separated by commas"),
        ("5;20", "separated by commas"),
        ("", "one or more ages"),
        (",", "one or more ages"),
        ("-1", "between 0 and 100"),
        ("100.5", "between 0 and 100"),
        ("nan", "between 0 and 100"),
    ],
)
def test_other_ages_are_a_bad_parameter_that_says_what_to_send(value, message):
    with pytest.raises(click.BadParameter, match=message):
        parse_ages(None, None, value)


def test_bad_ages_are_a_usage_error_before_any_photo_is_read(tmp_path):
    done = CliRunner().invoke(main, ["age", str(tmp_path / "missing.jpg"), "--ages", "5,old"])
    assert done.exit_code == 2 and "comma" in done.output and isinstance(done.exception, SystemExit)
