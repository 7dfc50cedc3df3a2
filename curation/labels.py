"""Labels of dataset images: from UTKFace-style file names, or from a CSV of `path,age,gender[,race]`.

A name that carries no usable labels is not an error: it is reported with what is wrong, so the curator can
fix it instead of the image silently vanishing from training.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from aging_model.data import MAX_LABEL_AGE, parse_utkface_name, read_manifest

LABEL_SOURCE_NAME = "file_name"
LABEL_SOURCE_CSV = "csv"
REQUIRED_COLUMNS = ("path", "age", "gender")


@dataclass(frozen=True)
class ImageLabels:
    """What an image is labelled as; `malformed` says why there are no labels (None when there are)."""

    age: int | None = None
    gender: int | None = None  # 0 = male, 1 = female (UTKFace's convention)
    race: int | None = None
    source: str | None = None  # LABEL_SOURCE_NAME or LABEL_SOURCE_CSV
    malformed: str | None = None

    @property
    def labelled(self) -> bool:
        return self.age is not None and self.gender is not None


def labels_from_name(name: str) -> ImageLabels:
    """Labels parsed from `AGE_GENDER_RACE_DATETIME.jpg.chip.jpg` (RACE may be missing, as in UTKFace itself)."""
    face = parse_utkface_name(name)
    if face is not None:
        return ImageLabels(age=face.age, gender=face.gender, race=face.race, source=LABEL_SOURCE_NAME)
    return ImageLabels(malformed=_why_name_is_malformed(name))


def _why_name_is_malformed(name: str) -> str:
    """A one-line reason written for the curator, naming the first field that is wrong."""
    fields = name.split(".", 1)[0].split("_")  # UTKFace stems have no dots: `.jpg.chip.jpg` is all suffix
    if len(fields) < 3:
        return f"name has {len(fields)} field(s); expected AGE_GENDER_RACE_DATETIME.jpg.chip.jpg"
    age, gender = fields[0], fields[1]
    if not age.isdigit():
        return f"age {age!r} is not a whole number"
    if int(age) > MAX_LABEL_AGE:
        return f"age {age} is above {MAX_LABEL_AGE}"
    if gender not in ("0", "1"):
        return f"gender {gender!r} is not 0 (male) or 1 (female)"
    return "name does not match AGE_GENDER_RACE_DATETIME.jpg.chip.jpg"


@dataclass(frozen=True)
class LabelTable:
    """Labels read from a CSV, looked up by an image's resolved path or, failing that, its file name."""

    by_path: dict[Path, ImageLabels]
    by_name: dict[str, ImageLabels]
    bad_rows: int

    def labels_for(self, path: Path) -> ImageLabels | None:
        return self.by_path.get(Path(path).resolve()) or self.by_name.get(Path(path).name)


def read_label_csv(path: str | Path) -> LabelTable:
    """Labels from a CSV with columns `path,age,gender[,race]` (the manifest format `faceage train` reads).

    Relative paths are resolved against the CSV's folder; rows with bad or out-of-range values are counted.
    Raises ValueError when the header lacks a required column.
    """
    _check_header(Path(path))
    index = read_manifest(Path(path))
    by_path, by_name = {}, {}
    for face in index.faces:
        labels = ImageLabels(age=face.age, gender=face.gender, race=face.race, source=LABEL_SOURCE_CSV)
        by_path[face.path.resolve()] = labels
        by_name[face.path.name] = labels
    return LabelTable(by_path=by_path, by_name=by_name, bad_rows=sum(index.skipped.values()))


def _check_header(path: Path) -> None:
    with open(path, newline="") as handle:
        header = next(csv.reader(handle), [])
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ValueError(f"{path} has no {', '.join(missing)} column; expected a header of path,age,gender[,race]")


def labels_for(path: Path, table: LabelTable | None = None) -> ImageLabels:
    """The CSV's labels for this image when it has a row, else the labels in its file name."""
    if table is not None:
        labels = table.labels_for(path)
        if labels is not None:
            return labels
    return labels_from_name(Path(path).name)
