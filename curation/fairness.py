"""Who the flags fall on: each flag's rate per race label, gender and age group, with a 95 % Wilson interval.

A flag that marks one group's faces far more often than the others' is either finding something real in that
group's photos (say so, after looking) or is measuring the group instead of the photo (fix the flag). The
report only counts; it is for a person to read beside the flagged faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RACE_LABELS = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}  # UTKFace's own names
GENDER_LABELS = {0: "male", 1: "female"}
AGE_GROUPS = ((0, 15), (16, 30), (31, 45), (46, 60), (61, 200))
DISPARITY = 1.5  # a group flagged this many times more often than all faces is worth a look
MIN_RATE_TO_CHECK = 0.03  # flags rarer than this overall are too few to compare groups


@dataclass(frozen=True)
class FacePopulation:
    """One analysed face as the report sees it: its labels and the names of the flags it carries."""

    age: int | None
    gender: int | None
    race: int | None
    flags: frozenset[str]


@dataclass(frozen=True)
class GroupRate:
    group: str  # "all", "race: Asian", "gender: female", "age: 16-30"
    flagged: int
    faces: int
    low: float  # the 95 % Wilson interval of the rate
    high: float

    @property
    def rate(self) -> float:
        return self.flagged / self.faces if self.faces else 0.0


def wilson_interval(flagged: int, faces: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate: sensible at 0 of 12 and at 12 of 12, where the normal one is not."""
    if faces == 0:
        return 0.0, 1.0
    p = flagged / faces
    centre = (p + z * z / (2 * faces)) / (1 + z * z / faces)
    half = z * math.sqrt(p * (1 - p) / faces + z * z / (4 * faces * faces)) / (1 + z * z / faces)
    return max(0.0, centre - half), min(1.0, centre + half)


def age_group(age: int | None) -> str | None:
    if age is None:
        return None
    low, high = next(g for g in AGE_GROUPS if g[0] <= age <= g[1])
    return f"{low}+" if high >= 200 else f"{low}-{high}"


def groups_of(face: FacePopulation) -> list[str]:
    """Every group a face belongs to (its labels that are known), besides "all"."""
    groups = ["all"]
    if face.race is not None:
        groups.append(f"race: {RACE_LABELS.get(face.race, str(face.race))}")
    if face.gender is not None:
        groups.append(f"gender: {GENDER_LABELS.get(face.gender, str(face.gender))}")
    if face.age is not None:
        groups.append(f"age: {age_group(face.age)}")
    return groups


def flag_rates(faces: list[FacePopulation], flag_names: list[str]) -> dict[str, list[GroupRate]]:
    """Per flag, its rate among all faces and in each group, in a fixed group order."""
    members: dict[str, list[FacePopulation]] = {}
    for face in faces:
        for group in groups_of(face):
            members.setdefault(group, []).append(face)
    order = sorted(members, key=_group_order)
    table = {}
    for name in flag_names:
        rows = []
        for group in order:
            flagged = sum(name in face.flags for face in members[group])
            rows.append(GroupRate(group, flagged, len(members[group]), *wilson_interval(flagged, len(members[group]))))
        table[name] = rows
    return table


def over_represented(rates: list[GroupRate]) -> list[GroupRate]:
    """Groups flagged above DISPARITY times the overall rate, for flags common enough (MIN_RATE_TO_CHECK) to judge."""
    overall = next(r for r in rates if r.group == "all")
    if overall.rate < MIN_RATE_TO_CHECK:
        return []
    return [r for r in rates if r.group != "all" and r.rate > DISPARITY * overall.rate]


def _group_order(group: str) -> tuple:
    kind, _, value = group.partition(": ")
    kinds = ["all", "race", "gender", "age"]
    if kind == "race":
        value = [v for k, v in sorted(RACE_LABELS.items())].index(value) if value in RACE_LABELS.values() else 99
    elif kind == "gender":
        value = 0 if value == "male" else 1
    elif kind == "age":
        value = int(value.split("-")[0].rstrip("+"))
    return kinds.index(kind), value


def markdown_table(table: dict[str, list[GroupRate]]) -> str:
    """Groups as rows, flags as columns; each cell `rate % (low-high) n`, n the flagged faces."""
    names = list(table)
    groups = [r.group for r in table[names[0]]] if names else []
    faces = {r.group: r.faces for r in table[names[0]]} if names else {}
    lines = ["| group | faces | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|---:|" + "---:|" * len(names)]
    for i, group in enumerate(groups):
        cells = [_cell(table[name][i]) for name in names]
        lines.append(f"| {group} | {faces[group]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(rate: GroupRate) -> str:
    return f"{100 * rate.rate:.1f} % ({100 * rate.low:.1f}-{100 * rate.high:.1f}) {rate.flagged}"
