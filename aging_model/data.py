"""UTKFace-style datasets: labels from file names, a fixed validation split, aligned training tensors.

File names look like `AGE_GENDER_RACE_DATETIME.jpg.chip.jpg` (gender 0 = male, 1 = female). The chips go
through the same alignment as photos at inference time: landmarks are detected on every chip once (cached
beside the run), then each chip is warped to the shared template at the model's resolution.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from tqdm import tqdm

from aging_model.age_groups import age_to_group

if TYPE_CHECKING:  # PyTorch is imported where tensors are made: the web app reads labels and suffixes here
    import torch

log = logging.getLogger(__name__)

_UTKFACE_NAME = re.compile(
    r"^(?P<age>\d{1,3})_(?P<gender>[01])_(?:(?P<race>[0-4])_)?(?P<stamp>\d+)\.jpg(?:\.chip\.jpg)?$"
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MAX_LABEL_AGE = 116


@dataclass(frozen=True)
class LabelledFace:
    """One dataset image and its labels."""

    path: Path
    age: int
    gender: int  # 0 = male, 1 = female
    race: int | None

    @property
    def age_group(self) -> int:
        return age_to_group(self.age)


@dataclass
class DatasetIndex:
    """What was found in a dataset folder: usable faces, and what was skipped and why."""

    faces: list[LabelledFace] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def parse_utkface_name(name: str) -> LabelledFace | None:
    """Labels from a UTKFace file name, or None when the name does not carry a valid age and gender."""
    match = _UTKFACE_NAME.match(name)
    if match is None:
        return None
    age = int(match["age"])
    if age > MAX_LABEL_AGE:
        return None
    race = int(match["race"]) if match["race"] is not None else None
    return LabelledFace(path=Path(name), age=age, gender=int(match["gender"]), race=race)


def index_folder(folder: Path) -> DatasetIndex:
    """Every image in `folder` with labels parsed from its name; malformed names are counted, not fatal."""
    index = DatasetIndex()
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        face = parse_utkface_name(path.name)
        if face is None:
            index.skipped["malformed_name"] += 1
            log.debug("skipping %s: name does not carry AGE_GENDER labels", path.name)
            continue
        index.faces.append(LabelledFace(path=path, age=face.age, gender=face.gender, race=face.race))
    return index


# File names kept in training whatever their hash says: the held-out side of a person found in both splits,
# written by `faceage dataset leakage --fix` (curation.leakage). FACEAGE_SPLIT_OVERRIDES names another list.
TRAIN_OVERRIDES_PATH = Path(__file__).parent / "split_train_overrides.txt"


def train_overrides(path: Path | None = None) -> frozenset[str]:
    """The file names the split keeps in training (empty when no list has been written)."""
    path = Path(path or os.environ.get("FACEAGE_SPLIT_OVERRIDES") or TRAIN_OVERRIDES_PATH)
    return _read_overrides(path, path.stat().st_mtime_ns if path.exists() else 0)


@functools.cache
def _read_overrides(path: Path, _mtime_ns: int) -> frozenset[str]:
    return frozenset(path.read_text().split()) if path.exists() else frozenset()


def is_validation(name: str, validation_percent: int = 5, to_train: frozenset[str] | None = None) -> bool:
    """A fixed split by a hash of the file name: stable across machines, runs and folder contents.

    Names in `to_train` (by default `train_overrides()`) stay in training, so one person is on one side only.
    """
    name = Path(name).name
    if name in (train_overrides() if to_train is None else to_train):
        return False
    digest = hashlib.sha1(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < validation_percent


def split_faces(
    faces: list[LabelledFace], validation_percent: int = 5, to_train: frozenset[str] | None = None
) -> tuple[list, list]:
    """(train, validation) by `is_validation`."""
    to_train = train_overrides() if to_train is None else to_train
    held_out = [is_validation(f.path.name, validation_percent, to_train) for f in faces]
    return [f for f, v in zip(faces, held_out) if not v], [f for f, v in zip(faces, held_out) if v]


def read_rgb(path: Path) -> np.ndarray | None:
    """An RGB uint8 array, or None when the file cannot be decoded (truncated, not an image)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def chip_landmarks(faces: list[LabelledFace], cache_path: Path, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Five MTCNN landmarks per chip (NaN where none was found), cached in `cache_path` (.npz) by file name.

    Detection on 23k chips takes minutes on a CPU, so it runs once and later runs read the cache.
    """
    from preprocessing.detection import FaceDetector

    cached: dict[str, np.ndarray] = {}
    if cache_path.exists():
        with np.load(cache_path) as stored:
            cached = dict(zip(stored["names"].tolist(), stored["landmarks"]))
    missing = [f for f in faces if f.path.name not in cached]
    if missing:
        detector = FaceDetector()
        for start in tqdm(range(0, len(missing), batch_size), desc="landmarks", unit="batch"):
            batch = missing[start : start + batch_size]
            images = [read_rgb(f.path) for f in batch]
            _detect_into(cached, detector, batch, images)
            if start % (batch_size * 40) == 0:
                _save_landmarks(cache_path, cached)
        _save_landmarks(cache_path, cached)
    return {f.path.name: cached[f.path.name] for f in faces}


def _detect_into(cached, detector, batch, images) -> None:
    """Detect on same-sized chips together; odd-sized or unreadable ones one by one."""
    nan = np.full((5, 2), np.nan, dtype=np.float32)
    groups: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        if image is None:
            cached[batch[i].path.name] = nan
        else:
            groups.setdefault(image.shape, []).append(i)
    for members in groups.values():
        found = detector.detect_batch([images[i] for i in members])
        for i, faces in zip(members, found):
            cached[batch[i].path.name] = _central_face_landmarks(faces, images[i].shape) if faces else nan


def _central_face_landmarks(faces, shape) -> np.ndarray:
    """The confident face nearest the chip's centre: chips are cropped around their subject."""
    centre = np.array([shape[1] / 2, shape[0] / 2])
    confident = [f for f in faces if f.probability >= 0.9] or faces

    def distance(face):
        x1, y1, x2, y2 = face.box
        return np.linalg.norm(np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - centre)

    return min(confident, key=distance).landmarks.astype(np.float32)


def _save_landmarks(cache_path: Path, cached: dict[str, np.ndarray]) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    names = np.array(list(cached.keys()))
    marks = np.stack(list(cached.values())).astype(np.float32)
    tmp = cache_path.with_suffix(".tmp.npz")
    np.savez(tmp, names=names, landmarks=marks)
    tmp.replace(cache_path)


@dataclass
class FaceTensors:
    """A whole dataset as aligned uint8 tensors in memory (23k faces at 64 px take 280 MB)."""

    images: torch.Tensor  # (N, 3, R, R) uint8
    ages: torch.Tensor  # (N,) int64 age in years
    genders: torch.Tensor  # (N,) int64
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, indices: list[int]) -> FaceTensors:
        import torch

        index = torch.tensor(indices, dtype=torch.long)
        return FaceTensors(
            images=self.images[index],
            ages=self.ages[index],
            genders=self.genders[index],
            names=[self.names[i] for i in indices],
        )


def align_chips(
    faces: list[LabelledFace], landmarks: dict[str, np.ndarray], resolution: int, cache_path: Path | None = None
) -> tuple[FaceTensors, Counter]:
    """Each chip warped to the alignment template at `resolution`, exactly as photos are at inference.

    Chips where MTCNN found no face are used as they are (they already have the chip framing, which the
    template was derived from); unreadable files are skipped. Both are counted.
    """
    import torch

    from preprocessing.alignment import align_face

    if cache_path is not None and cache_path.exists():
        with np.load(cache_path) as stored:
            by_name = dict(zip(stored["names"].tolist(), stored["images"]))
    else:
        by_name = {}
    counts: Counter = Counter()
    kept, images = [], []
    for face in tqdm(faces, desc=f"aligning {resolution}px", unit="face", disable=len(faces) < 2000):
        image = by_name.get(face.path.name)
        if image is None:
            image = _aligned_chip(face, landmarks.get(face.path.name), resolution, counts, align_face)
            if image is None:
                continue
            by_name[face.path.name] = image
        kept.append(face)
        images.append(image)
    if cache_path is not None and counts:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_path, names=np.array(list(by_name)), images=np.stack(list(by_name.values())))
    tensors = FaceTensors(
        images=torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        ages=torch.tensor([f.age for f in kept]),
        genders=torch.tensor([f.gender for f in kept]),
        names=[f.path.name for f in kept],
    )
    return tensors, counts


def _aligned_chip(face, marks, resolution, counts, align_face) -> np.ndarray | None:
    import cv2

    pixels = read_rgb(face.path)
    if pixels is None:
        counts["unreadable"] += 1
        return None
    if marks is None or np.isnan(marks).any():
        counts["no_landmarks_used_as_is"] += 1
        return cv2.resize(pixels, (resolution, resolution), interpolation=cv2.INTER_AREA)
    if not _plausible_chip_landmarks(marks):
        counts["implausible_landmarks_used_as_is"] += 1
        return cv2.resize(pixels, (resolution, resolution), interpolation=cv2.INTER_AREA)
    counts["aligned"] += 1
    return align_face(pixels, marks, resolution).pixels


def _plausible_chip_landmarks(marks: np.ndarray, max_residual_px: float = 15.0) -> bool:
    """False for misdetections: landmarks that no similarity transform brings near the template."""
    from preprocessing.alignment import CHIP_TEMPLATE, similarity_transform, transform_points

    matrix = similarity_transform(marks, CHIP_TEMPLATE)
    residual = np.linalg.norm(transform_points(matrix, marks) - CHIP_TEMPLATE, axis=1).mean()
    return residual <= max_residual_px


def read_manifest(path: Path) -> DatasetIndex:
    """Faces listed in a CSV manifest with columns `path,age,gender[,race]` (a curated export).

    Relative paths are resolved against the manifest's folder; bad rows are counted, not fatal.
    """

    index = DatasetIndex()
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                age, gender = int(row["age"]), int(row["gender"])
                race = int(row["race"]) if row.get("race") not in (None, "") else None
            except (KeyError, TypeError, ValueError):
                index.skipped["malformed_row"] += 1
                continue
            if not (0 <= age <= MAX_LABEL_AGE and gender in (0, 1)):
                index.skipped["label_out_of_range"] += 1
                continue
            image_path = Path(row["path"])
            if not image_path.is_absolute():
                image_path = Path(path).parent / image_path
            index.faces.append(LabelledFace(path=image_path, age=age, gender=gender, race=race))
    return index


def load_aligned_split(
    data: str | Path,
    manifest: str | Path | None,
    cache_dir: str | Path,
    resolution: int,
    limit: int | None = None,
    validation_percent: int = 5,
) -> tuple[FaceTensors, FaceTensors]:
    """(train, validation) tensors of a folder or manifest, aligned like inference inputs; cached on disk.

    Every model trained on the data (the CAAE, the age and gender estimator) goes through this one function,
    so they all see the same alignment and the same fixed split.
    """
    index = read_manifest(Path(manifest)) if manifest else index_folder(Path(data))
    faces = index.faces[:limit] if limit else index.faces
    source = Path(manifest or data).resolve()
    data_key = hashlib.sha1(str(source).encode()).hexdigest()[:8]
    cache_dir = Path(cache_dir)
    landmarks = chip_landmarks(faces, cache_dir / f"landmarks-{data_key}.npz")
    tensors, counts = align_chips(faces, landmarks, resolution, cache_dir / f"aligned-{data_key}-{resolution}.npz")
    log.info("dataset: %d faces; skipped %s; alignment %s", len(tensors), dict(index.skipped), dict(counts))
    to_train = train_overrides()
    validation = [is_validation(name, validation_percent, to_train) for name in tensors.names]
    train_idx = [i for i, v in enumerate(validation) if not v]
    val_idx = [i for i, v in enumerate(validation) if v]
    return tensors.subset(train_idx), tensors.subset(val_idx)
