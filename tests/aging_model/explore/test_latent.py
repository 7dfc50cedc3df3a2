"""Codes: 50 hex digits that stand for a latent, read strictly, and drawn from the prior by seed."""

import numpy as np
import pytest

from aging_model.explore.latent import CODE_LENGTH, code_from_latent, latent_from_code, quantize, sample_codes


def test_a_code_reads_back_to_itself():
    for code in sample_codes(20, seed=1):
        assert code_from_latent(latent_from_code(code)) == code


def test_a_latent_written_as_a_code_moves_by_at_most_half_a_level():
    latent = np.random.default_rng(0).uniform(-1, 1, 50)
    assert np.abs(quantize(latent) - latent).max() <= 1 / 16 + 1e-6


def test_the_digits_stand_for_the_centres_of_sixteen_equal_bins():
    assert latent_from_code("0" * 50)[0] == pytest.approx(-15 / 16)
    assert latent_from_code("f" * 50)[0] == pytest.approx(15 / 16)
    assert code_from_latent(np.full(50, -1.0)) == "0" * 50
    assert code_from_latent(np.full(50, 1.0)) == "f" * 50  # the upper edge belongs to the last bin
    assert code_from_latent(np.full(50, 7.0)) == "f" * 50  # outside [-1, 1]: clipped


def test_a_code_typed_in_capitals_or_with_spaces_around_is_the_same_code():
    code = sample_codes(1, seed=2)[0]
    assert np.array_equal(latent_from_code(f"  {code.upper()}\n"), latent_from_code(code))


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("", "has 0"),
        ("0" * 49, "has 49"),
        ("0" * 51, "has 51"),
        ("g" + "0" * 49, "'g'"),
        ("0" * 48 + "-1", "'-'"),
        ("0x" + "0" * 48, "'x'"),
        ("0" * 25 + " " + "0" * 24, "' '"),
        ("é" + "0" * 49, "'é'"),
        (None, "text"),
        (12345, "text"),
    ],
)
def test_anything_but_fifty_hex_digits_is_refused_with_a_reason(code, says):
    with pytest.raises(ValueError, match=says):
        latent_from_code(code)


def test_a_latent_of_the_wrong_size_or_not_finite_has_no_code():
    with pytest.raises(ValueError, match="50 values"):
        code_from_latent(np.zeros(49))
    with pytest.raises(ValueError, match="finite"):
        code_from_latent(np.full(50, np.nan))


def test_the_same_seed_draws_the_same_codes_and_another_seed_others():
    assert sample_codes(5, seed=7) == sample_codes(5, seed=7)
    assert sample_codes(3, seed=7) == sample_codes(5, seed=7)[:3]
    assert not set(sample_codes(5, seed=7)) & set(sample_codes(5, seed=8))


def test_codes_drawn_from_the_uniform_prior_use_every_digit_equally_often():
    digits = "".join(sample_codes(400, seed=0))
    assert len(digits) == 400 * CODE_LENGTH
    counts = np.array([digits.count(d) for d in "0123456789abcdef"])
    expected = len(digits) / 16
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
