"""How the renderer moves a face's landmarks, on the astronaut's landmarks and the shipped prototypes' shapes: the
mouth's height follows the prototypes' (a boy's fuller lips, an old face's thin ones), each eye keeps its own
shape, a child aimed at an adult's age grows its face, lowers its lids and brows, and an adult made a child keeps
a child's chin."""

import numpy as np
import pytest

from aging_model.prototypes import proportions
from aging_model.prototypes.aging import PrototypeAger
from aging_model.prototypes.proportions import WHOLE_MOUTH, feature_shift

OWN_AGE = 34.0
FEMALE = 1.0
SIZE = 256


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


def test_a_child_aged_to_an_adult_grows_its_lower_face_against_its_skull(face):
    """The cardioidal strain: from a point above the forehead the chin moves down much more than the eyes, and
    an adult's face aimed at any age does not grow."""
    from aging_model.prototypes.proportions import head_growth

    _, marks = face
    grown = head_growth(marks, own_age=5.0, target=45.0, pad=0, inner=SIZE)
    assert grown[8, 1] > 2 * grown[36:48, 1].mean() > 0
    assert grown[8, 1] > 0.05 * SIZE
    assert not head_growth(marks, own_age=34.0, target=80.0, pad=0, inner=SIZE).any()
    assert not head_growth(marks, own_age=34.0, target=3.0, pad=0, inner=SIZE).any()


def test_a_child_aged_to_an_adult_loses_the_roundness_of_its_eyes(face):
    """A child's eyes are open wider for their width than an adult's: aimed forwards the upper lids come down (the
    moved landmarks say so; eyes.mature_eyes does it on the pixels) and the irises shrink for their eye, more with
    the years; an adult's eyes aimed at any age keep their opening and iris."""
    from aging_model.prototypes.proportions import eye_maturity, lowered_lids
    from preprocessing.landmarks import LEFT_EYE, RIGHT_EYE

    _, marks = face

    def opening(points: np.ndarray) -> float:
        return float(np.ptp(points[LEFT_EYE, 1]) + np.ptp(points[RIGHT_EYE, 1])) / float(
            np.ptp(points[LEFT_EYE, 0]) + np.ptp(points[RIGHT_EYE, 0])
        )

    iris_45, drop_45 = eye_maturity(4.0, 45.0)
    iris_14, drop_14 = eye_maturity(4.0, 14.0)
    assert iris_45 < iris_14 < 1.0 and 0.0 < drop_14 < drop_45
    grown = marks + lowered_lids(marks, drop_45)
    assert opening(grown) < 0.85 * opening(marks)
    assert opening(grown) < opening(marks + lowered_lids(marks, drop_14)) < opening(marks)
    assert np.array_equal(grown[[36, 39, 40, 41, 42, 45, 46, 47]], marks[[36, 39, 40, 41, 42, 45, 46, 47]])
    assert eye_maturity(30.0, 75.0) == (1.0, 0.0) and eye_maturity(30.0, 3.0) == (1.0, 0.0)


def test_a_child_aged_to_an_adult_lowers_its_brows_over_their_outer_ends(face):
    """A grown child's brows sat higher over the eyes than real adults' (held-out faces: 0.04-0.06 of the eyes'
    distance too high at their middle and outer ends at 45); an adult's brows sit lower there, the inner ends
    less so, and more by 45 than at 25. An adult's face aimed at any age keeps its brows where the prototypes put
    them."""
    from aging_model.prototypes.proportions import head_growth

    _, marks = face

    def brows_drop(own_age: float, target: float) -> np.ndarray:
        """How far each brow point moves down beyond the eyes (the face's growth moves both)."""
        shift = head_growth(marks, own_age=own_age, target=target, pad=0, inner=SIZE)
        return shift[17:27, 1] - shift[36:48, 1].mean()

    at_45, at_25 = brows_drop(4.0, 45.0), brows_drop(4.0, 25.0)
    outer, inner = [0, 1, 8, 9], [4, 5]
    assert at_45[outer].mean() > at_45[inner].mean() > 0
    assert at_45[outer].mean() > at_25[outer].mean() > 0
    assert not head_growth(marks, own_age=30.0, target=75.0, pad=0, inner=SIZE).any()


def test_an_adult_made_three_keeps_a_childs_lower_face_not_a_dolls(ager, face):
    """The chin rose too far going young (nose to chin 0.86-0.88 of the eyes' distance at 3, real children of 2-4:
    0.97-0.99): what lies below the nose is stretched back down to proportions.LOWER_FACE_FLOOR, and no further."""
    from aging_model.prototypes.proportions import LOWER_FACE_FLOOR, lower_face_floor

    crop, marks = face

    def lower_face(points: np.ndarray) -> float:
        eyes = np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0))
        return float((points[8, 1] - points[33, 1]) / eyes)

    moved: list[np.ndarray] = []
    ager.age(crop, marks, OWN_AGE, FEMALE, [3.0], moved_landmarks=moved)
    assert lower_face(moved[0]) == pytest.approx(LOWER_FACE_FLOOR, abs=0.005)
    assert lower_face(moved[0]) < lower_face(marks)  # still shorter than the adult's own
    assert not lower_face_floor(marks).any()  # an adult's own lower face is long enough
    short = marks.copy()
    short[8, 1] -= 20.0
    shift = lower_face_floor(short)
    assert lower_face(short + shift) == pytest.approx(LOWER_FACE_FLOOR)
    above = short[:, 1] <= short[33, 1]
    assert not shift[above].any() and (shift[~above, 1] > 0).all()  # only what lies below the nose's base moves
