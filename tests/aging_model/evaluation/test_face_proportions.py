import numpy as np
import pytest

from aging_model.evaluation.proportions import PROPORTIONS, face_proportions, proportions_row


def test_proportions_do_not_depend_on_the_faces_size_or_place(face):
    _, marks = face
    own = face_proportions(marks)
    assert np.allclose(face_proportions(2.5 * marks + [40, -15]), own)
    nose, lower_face, inner_brows, eye_opening = own
    # The astronaut is an adult: her proportions lie among real adults' (UTKFace's held-out faces of 20-50).
    assert 0.65 < nose < 0.95 and 0.9 < lower_face < 1.3 and 0.2 < inner_brows < 0.4 and 0.2 < eye_opening < 0.45


def test_a_longer_nose_and_rounder_eyes_read_as_such(face):
    _, marks = face
    longer = marks.copy()
    longer[31:36, 1] += 5  # the nose's base lower
    rounder = marks.copy()
    for eye in (slice(36, 42), slice(42, 48)):
        centre = rounder[eye, 1].mean()
        rounder[eye, 1] = centre + 1.5 * (rounder[eye, 1] - centre)
    own, long_nosed, round_eyed = (face_proportions(m) for m in (marks, longer, rounder))
    assert long_nosed[0] > own[0] and long_nosed[1] < own[1]  # the lower face shortens by as much
    assert round_eyed[3] == pytest.approx(1.5 * own[3])


def test_a_row_puts_aged_faces_next_to_real_ones(face):
    _, marks = face
    row = proportions_row("adults", 3, [marks, marks], [marks])
    assert row["aged_faces"] == 2 and row["real_faces"] == 1
    assert all(row[p]["ratio"] == 1.0 for p in PROPORTIONS)
    empty = proportions_row("adults", 8, [marks], [])
    assert empty["nose"]["real"] is None and empty["nose"]["ratio"] is None
