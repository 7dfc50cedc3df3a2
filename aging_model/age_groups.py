"""The ten age groups of the CAAE paper and the mapping between ages and the generator's age condition."""

from __future__ import annotations

import numpy as np

# (first age, last age) of each group; the last group is open-ended.
AGE_GROUPS: tuple[tuple[int, int], ...] = (
    (0, 5),
    (6, 10),
    (11, 15),
    (16, 20),
    (21, 30),
    (31, 40),
    (41, 50),
    (51, 60),
    (61, 70),
    (71, 116),
)
N_AGE_GROUPS = len(AGE_GROUPS)
GROUP_LABELS = tuple(f"{lo}-{hi}" if hi < 116 else f"{lo}+" for lo, hi in AGE_GROUPS)
# A representative age per group, used to place groups on a continuous age axis (71+ is centred at 78).
GROUP_CENTRES = np.array([2.5, 8.0, 13.0, 18.0, 25.5, 35.5, 45.5, 55.5, 65.5, 78.0])


def age_to_group(age: float) -> int:
    """The index of the group an age belongs to."""
    for index, (_, last) in enumerate(AGE_GROUPS):
        if age < last + 1:
            return index
    return N_AGE_GROUPS - 1


def age_condition(age: float) -> np.ndarray:
    """A soft age condition for any age: the weight is split between the two neighbouring group centres.

    At a group's centre this is that group's one-hot vector; between centres it interpolates linearly, which
    is how the generator renders ages it was never conditioned on exactly (e.g. 33, or a smooth morph).
    """
    weights = np.zeros(N_AGE_GROUPS, dtype=np.float32)
    if age <= GROUP_CENTRES[0]:
        weights[0] = 1.0
        return weights
    if age >= GROUP_CENTRES[-1]:
        weights[-1] = 1.0
        return weights
    upper = int(np.searchsorted(GROUP_CENTRES, age))
    lower = upper - 1
    t = (age - GROUP_CENTRES[lower]) / (GROUP_CENTRES[upper] - GROUP_CENTRES[lower])
    weights[lower], weights[upper] = 1.0 - t, t
    return weights
