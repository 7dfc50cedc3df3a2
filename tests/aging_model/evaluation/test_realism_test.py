"""The two-sample realism test: chance on one population, sure on two, and features that see what they name."""

import cv2
import numpy as np
import pytest

from aging_model.evaluation.realism_test import (
    band_energies,
    colour_statistics,
    realism_features,
    realism_test,
    two_sample_accuracy,
)


def test_two_samples_of_one_population_are_told_apart_at_chance_and_shifted_ones_surely():
    rng = np.random.default_rng(0)
    same = two_sample_accuracy(rng.normal(size=(60, 20)), rng.normal(size=(60, 20)))
    assert abs(same - 0.5) < 0.15
    shifted = rng.normal(size=(60, 20))
    shifted[:, 0] += 4.0  # four standard deviations apart: at best 0.98 (Φ(2))
    assert two_sample_accuracy(shifted, rng.normal(size=(60, 20))) > 0.9


def test_too_few_faces_for_the_folds_give_no_accuracy():
    assert two_sample_accuracy(np.zeros((4, 3)), np.ones((30, 3))) is None


def test_blur_takes_energy_out_of_the_finest_band_first(astronaut):
    sharp, soft = band_energies(np.stack([astronaut, cv2.GaussianBlur(astronaut, (0, 0), 6)]))
    assert soft[0] < sharp[0] - 1.5 and soft[0] - sharp[0] < soft[-1] - sharp[-1]


def test_a_grey_face_has_no_chroma_and_a_lighter_one_more_lightness(astronaut):
    grey = cv2.cvtColor(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    lighter = cv2.convertScaleAbs(astronaut, alpha=1.0, beta=30)
    own, greyed, lit = colour_statistics(np.stack([astronaut, grey, lighter]))
    assert greyed[8] == pytest.approx(0.0, abs=0.5) and own[8] > 10  # mean chroma
    assert lit[0] > own[0] + 5  # mean L


def test_the_test_reports_every_feature_family(astronaut):
    rng = np.random.default_rng(1)
    faces = np.stack([np.clip(astronaut * rng.uniform(0.8, 1.1), 0, 255).astype(np.uint8) for _ in range(10)])
    darker = (faces * 0.6).astype(np.uint8)
    result = realism_test(
        realism_features(darker, rng.normal(size=(10, 128))), realism_features(faces, rng.normal(size=(10, 128)))
    )
    assert set(result["by_features"]) == {"descriptor", "bands", "colour"}
    assert result["by_features"]["colour"] == 1.0 and result["aged_faces"] == result["real_faces"] == 10
