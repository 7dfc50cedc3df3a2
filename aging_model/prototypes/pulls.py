"""How far a face aimed younger is drawn towards the target age's own prototype (PrototypeAger.age): its skin,
and below the nose the shaving zone."""

from __future__ import annotations

import numpy as np

# How far a face's skin is drawn towards the target group's own prototype (its shading and medium detail, in the
# face's own skin tone), by target age: an average of real children carries what a difference between averages
# cannot (smooth cheeks, no shaving shadow, a child's soft shading); a moderate pull reads as a child of that
# person, a strong one as a generic child (../shared/notes/aging-levers.md). Forwards there is no pull: drawn
# towards the (smooth) adult average, held-out children aimed at 25 / 45 / 75 read 18 / 28 / 55 to the estimator,
# against 21 / 34 / 60 without it (docs/model-card.md, "Honest judges").
YOUNGER_PULL = ((3.0, 0.65), (8.0, 0.55), (13.0, 0.38), (18.0, 0.15), (25.0, 0.0))
# An old face made middle-aged or young keeps its own wrinkles and folds at any strength of the ratio of detail
# energies: a deep fold is shading as much as detail. So, going back many years to an adult age too, the skin is
# pulled towards the target's prototype (in its own tone), growing from nothing at _YEARS_FREE years taken away to
# _YEARS_PULL at _YEARS_FULL (years from the estimator's reading, which under-reads the old). On held-out faces of
# 65-95 aimed at 20 and 40 the readings fell from 48 and 56 to 38 and 49 (estimator; judge 42 and 56 to 34 and 48);
# more took glasses' frames away with the wrinkles.
_YEARS_PULL = 0.7
_YEARS_FREE = 5.0
_YEARS_FULL = 30.0
# Below the nose, the shaving zone: going young it is drawn nearly all the way to the child prototype in the
# face's own tone (stubble, moustache and beard are not skin and are left out of the skin mask otherwise).
_LOWER_FACE_PULL = 0.9


def younger_pull(own_age: float, target: float) -> tuple[float, float]:
    """(pull of the skin, pull of the shaving zone) towards the target's prototype, 0..1 (see YOUNGER_PULL)."""
    if target < own_age:
        ages, pulls = zip(*YOUNGER_PULL)
        # A child made younger still is mostly a child already: the pull grows with the years taken away.
        pull = float(np.interp(target, ages, pulls)) * min(1.0, (own_age - target) / 15.0)
        years = float(np.clip((own_age - target - _YEARS_FREE) / (_YEARS_FULL - _YEARS_FREE), 0.0, 1.0))
        pull = max(pull, _YEARS_PULL * years)
        lower = _LOWER_FACE_PULL * float(np.clip((18.0 - target) / 8.0, 0.0, 1.0)) if own_age > 16 else 0.0
        return pull, lower
    return 0.0, 0.0
