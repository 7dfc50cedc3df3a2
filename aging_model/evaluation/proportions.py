"""A face's proportions from its 68 landmarks, the ones that tell a child's face from an adult's, each as a share of
the eyes' distance (so a face's size and place in its crop do not count):

- nose: from the top of its bridge (point 27) to its base (33); a child's is short (0.66 at 1-7 in held-out UTKFace
  faces, 0.77-0.80 in adults);
- lower face: from the nose's base to the chin (8); it grows most from childhood (0.90-0.99 at 1-7, 1.02-1.10 in
  adults);
- inner brows: how high the brows' inner ends (21, 22) sit above the inner eye corners (39, 42); a child's sit high,
  and brows pulled down onto the eyes read as a frown;
- eye opening: the eyes' height over their width (not over the eyes' distance); a child's eyes are round (0.37),
  an adult's narrower with age (0.35 at 23-27, 0.30 at 42-48).

Aged faces are measured with the landmarker on the aged face as served, aligned again on itself as real faces of
the target age are (in its input's frame a grown child's chin falls below the crop: measured there, children aimed
at 45 had lower faces of 0.97, aligned again 1.01), so a renderer's proportions can be put next to real ones
(`faceage evaluate`).
"""

from __future__ import annotations

import numpy as np

from preprocessing.landmarks import LEFT_EYE, RIGHT_EYE, eye_distance

PROPORTIONS = ("nose", "lower_face", "inner_brows", "eye_opening")


def face_proportions(landmarks: np.ndarray) -> np.ndarray:
    """(4,) the PROPORTIONS of a face with 68 landmarks (x, y) in any pixels."""
    marks = np.asarray(landmarks, np.float64)
    eyes = max(eye_distance(marks), 1e-6)
    nose = (marks[33, 1] - marks[27, 1]) / eyes
    lower_face = (marks[8, 1] - marks[33, 1]) / eyes
    inner_brows = (marks[[39, 42], 1].mean() - marks[[21, 22], 1].mean()) / eyes
    height = np.ptp(marks[LEFT_EYE, 1]) + np.ptp(marks[RIGHT_EYE, 1])
    width = max(float(np.ptp(marks[LEFT_EYE, 0]) + np.ptp(marks[RIGHT_EYE, 0])), 1e-6)
    return np.array([nose, lower_face, inner_brows, height / width])


def proportions_row(name: str, target: int, aged: list[np.ndarray], real: list[np.ndarray]) -> dict:
    """The median PROPORTIONS of aged faces (their landmarks) and of real faces of the target age, and the aged
    faces' as a share of the real ones (1: the same)."""
    aged_median = np.median([face_proportions(m) for m in aged], axis=0) if aged else None
    real_median = np.median([face_proportions(m) for m in real], axis=0) if real else None
    row: dict = {"set": name, "target": target, "aged_faces": len(aged), "real_faces": len(real)}
    for i, proportion in enumerate(PROPORTIONS):
        aged_value = None if aged_median is None else round(float(aged_median[i]), 3)
        real_value = None if real_median is None else round(float(real_median[i]), 3)
        ratio = None if aged_value is None or not real_value else round(aged_value / real_value, 3)
        row[proportion] = {"aged": aged_value, "real": real_value, "ratio": ratio}
    return row
