"""How the renderer moves a face's landmarks, on the astronaut's landmarks and the shipped prototypes' shapes: the
mouth's height follows the prototypes' (a boy's fuller lips, an old face's thin ones), and each eye keeps its own
shape."""

import numpy as np
import pytest

from aging_model.prototypes import proportions
from aging_model.prototypes.aging import PrototypeAger
from aging_model.prototypes.proportions import WHOLE_MOUTH, feature_shift

OWN_AGE = 34.0


@pytest.fixture(scope="module")
def ager() -> PrototypeAger:
    return PrototypeAger.load()


def _mouth_height(points: np.ndarray) -> float:
    """The mouth's height against its width (landmarks 48-67)."""
    mouth = points[WHOLE_MOUTH]
    return float(np.ptp(mouth[:, 1]) / np.ptp(mouth[:, 0]))


def _moved(ager, face, target: float, female: float = 1.0) -> np.ndarray:
    crop, marks = face
    own = ager._shape(OWN_AGE, female)
    return marks + feature_shift(marks, own, ager._shape(target, female), crop.shape[0])


@pytest.mark.parametrize("female, target, taller", [(0.0, 3.0, True), (0.0, 75.0, False), (1.0, 75.0, False)])
def test_the_mouth_takes_the_prototypes_height_a_boys_fuller_lips_and_the_olds_thin_ones(
    ager, face, female, target, taller
):
    _, marks = face
    change = _mouth_height(_moved(ager, face, target, female)) / _mouth_height(marks)
    assert (change > 1.03) if taller else (change < 0.95), change


def test_without_its_own_height_the_mouth_scales_as_a_whole(ager, face, monkeypatch):
    monkeypatch.setattr(proportions, "MOUTH_HEIGHT", 0.0)
    _, marks = face
    assert _mouth_height(_moved(ager, face, 75.0)) == pytest.approx(_mouth_height(marks), rel=1e-6)


def test_each_eye_keeps_its_own_shape(ager, face):
    _, marks = face
    moved = _moved(ager, face, 3.0)
    for eye in (slice(36, 42), slice(42, 48)):
        own, now = marks[eye] - marks[eye].mean(axis=0), moved[eye] - moved[eye].mean(axis=0)
        scale = float(np.linalg.norm(now) / np.linalg.norm(own))
        np.testing.assert_allclose(now, scale * own, atol=1e-4)
