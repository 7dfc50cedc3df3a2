"""Best of N without a discriminator: realism read against real faces, times agreement with the request."""

import json

import numpy as np
import pytest

from aging_model.estimator.age_gender import Estimate
from aging_model.explore.ranking import DEFAULT_REALISM_PATH, RealismReference, judge_faces


class _Detector:
    """Hands out prepared MTCNN probabilities, one face per image (None: no face found)."""

    def __init__(self, probabilities):
        self.probabilities = list(probabilities)

    def detect(self, image, max_faces=3):
        probability = self.probabilities.pop(0)
        return [] if probability is None else [type("Face", (), {"probability": probability})()]


class _Estimator:
    def __init__(self, ages, female):
        self.estimate = lambda faces: Estimate(np.array(ages, np.float32), np.array(female, np.float32))


def test_realism_is_the_share_of_reference_faces_less_face_like():
    reference = RealismReference.from_logits(np.arange(1000.0) / 100, {})
    assert reference.realism(np.array([-5.0, 5.0, 50.0])) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_the_score_multiplies_realism_with_gender_and_age_agreement():
    reference = RealismReference.from_logits(np.linspace(0, 16, 200), {})
    p = lambda logit: 1 / (1 + np.exp(-logit))  # noqa: E731
    detector = _Detector([p(12.0), p(12.0), p(12.0), p(4.0), None])
    estimator = _Estimator(ages=[40, 40, 70, 40, 40], female=[0.9, 0.1, 0.9, 0.9, 0.9])
    faces = np.zeros((5, 64, 64, 3), np.uint8)
    judged = judge_faces(detector, estimator, reference, faces, list(faces), age=40, female=1.0)
    scores = [j.score for j in judged]
    assert judged[0].realism == pytest.approx(0.75, abs=0.01)
    assert scores[0] == pytest.approx(0.75 * 0.9, abs=0.01)
    assert scores[1] == pytest.approx(0.75 * 0.1, abs=0.01)  # read as a man, asked for a woman
    assert scores[2] == pytest.approx(0.75 * 0.9 * np.exp(-0.5 * 9), abs=0.01)  # read 30 years older
    assert scores[0] > scores[3] > scores[4] == 0.0  # less face-like; no face found at all


def test_the_shipped_reference_comes_from_thousands_of_reconstructed_training_faces():
    reference = RealismReference.load()
    assert reference.card["faces"] >= 1000 and len(reference.quantiles) == 101
    assert 8 < reference.quantiles[50] < 16


def test_a_reference_round_trips_and_a_broken_one_is_refused(tmp_path):
    reference = RealismReference.load(DEFAULT_REALISM_PATH)
    reference.save(tmp_path / "r.json")
    assert np.allclose(RealismReference.load(tmp_path / "r.json").quantiles, reference.quantiles, atol=1e-4)
    (tmp_path / "bad.json").write_text(json.dumps({"face_logit_quantiles": [3, 2, 1]}))
    with pytest.raises(ValueError, match="increasing"):
        RealismReference.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="realism"):
        RealismReference.load(tmp_path / "missing.json")
