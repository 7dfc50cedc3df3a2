"""Which faces the honest judges see: held-out faces stratified by gender and race label, real faces matched to
them, faces within an age window, and the order of the sheets (faces with beards, make-up or glasses first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Held-out adults the sheet shows first when the set holds them (it does with seed 0), picked by eye from the
# 64: both genders and every race label, with beards, moustaches and glasses, which going young must handle.
SHEET_PREFERRED = (
    "26_1_0_20170116192554607.jpg.chip.jpg",
    "38_1_1_20170112235946602.jpg.chip.jpg",
    "23_1_2_20170102235032243.jpg.chip.jpg",
    "23_1_4_20170117194303197.jpg.chip.jpg",
    "28_1_3_20170109131950179.jpg.chip.jpg",
    "31_1_1_20170116175710225.jpg.chip.jpg",
    "55_1_3_20170117153430708.jpg.chip.jpg",  # glasses
    "43_0_0_20170117185833850.jpg.chip.jpg",  # glasses and a beard
    "57_0_1_20170111203322229.jpg.chip.jpg",  # glasses and a moustache
    "23_0_3_20170119164331517.jpg.chip.jpg",  # a beard
    "26_0_4_20170117153355923.jpg.chip.jpg",  # a beard
    "45_0_1_20170117182333220.jpg.chip.jpg",
    "28_0_3_20170119194512051.jpg.chip.jpg",  # glasses
    "40_0_2_20170117133430387.jpg.chip.jpg",  # glasses
    "26_0_4_20170117201113262.jpg.chip.jpg",
    "42_0_0_20170117185757210.jpg.chip.jpg",  # a red beard
)


def sheet_order(names: list[str], preferred: Sequence[str] = SHEET_PREFERRED) -> list[int]:
    """Indices of `names` for a sample sheet: the preferred ones that are there (in their order), then the rest."""
    first = [names.index(name) for name in preferred if name in names]
    return first + [i for i in range(len(names)) if i not in first]


def stratified_choice(faces: list, count: int, seed: int = 0) -> list:
    """`count` faces by a round robin over (gender, race) cells, each cell shuffled (seeded): every cell is
    represented as long as the count allows, and the first faces of the list are the most varied."""
    rng = np.random.default_rng(seed)
    cells: dict[tuple, list] = {}
    for face in faces:
        cells.setdefault((face.gender, face.race if face.race is not None else -1), []).append(face)
    queues = [list(rng.permutation(len(members))) for members in cells.values()]
    members = list(cells.values())
    order = rng.permutation(len(members))
    chosen: list = []
    while len(chosen) < count and any(queues):
        for c in order:
            if queues[c] and len(chosen) < count:
                chosen.append(members[c][queues[c].pop(0)])
    return chosen


def matched_real_faces(like: list, pool: list, seed: int = 0) -> list:
    """For each face of `like`, a different face of `pool` with the same age (and gender, where one is left)."""
    rng = np.random.default_rng(seed)
    by_age: dict[int, list] = {}
    for face in pool:
        by_age.setdefault(face.age, []).append(face)
    for members in by_age.values():
        members[:] = [members[i] for i in rng.permutation(len(members))]
    chosen = []
    for face in like:
        candidates = by_age.get(face.age, [])
        same = [c for c in candidates if c.gender == face.gender] or candidates
        if same:
            chosen.append(same[0])
            candidates.remove(same[0])
    return chosen


def in_window(faces: list, window: tuple[int, int]) -> list:
    return [f for f in faces if window[0] <= f.age <= window[1]]


def sample(faces: list, count: int, seed: int = 0) -> list:
    """At most `count` of `faces` at random (seeded), in their own order."""
    if len(faces) <= count:
        return list(faces)
    keep = sorted(np.random.default_rng(seed).permutation(len(faces))[:count].tolist())
    return [faces[i] for i in keep]
