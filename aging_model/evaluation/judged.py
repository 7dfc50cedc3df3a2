"""Honest judges of the served renderer (issue 17): held-out adults made young and children made old, read by
two age readers, tested against real faces by a classifier, and measured on the head around the face.

- Sets: held-out adults (20-60) aimed at 3, 8 and 13; held-out children (1-7) aimed at 25, 45 and 75 (both
  also at 80 for the head measures, and at their own estimated age, the floor of the realism test). The faces
  are drawn from the validation split by a seeded round robin over gender and race, so a rerun after a change
  of renderer renders exactly the same inputs.
- Rendering: each chip is the photo; the pipeline's own aging and compositing steps (`AgingPipeline._age`,
  `_composite`) age its face at the evaluation's DETAIL_SIZE with the aging margin and paste it back, so
  whatever the pipeline does (its renderer, and anything it changes around the face, such as hair) is what
  is measured, on the served photo seen through the face's alignment.
- Reading: the shipped estimator (which the renderer was tuned against) and the age judge (`age_judge`, a
  different network, input size and framing, never used to make a face) read every aged face, and real
  held-out faces of each target age (within REAL_WINDOWS) read to the same reader: an aged face should read
  like a real face of its target age to both.
- Realism: a classifier tells aged faces from real training-split faces of the target age (`realism_test`).
- Head: face against neck, hair and skin colour at 80 (`head_measures`).
- Proportions: nose, lower face, brows and eyes against real faces of the target age (`proportions`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from aging_model.evaluation.head_measures import head_measures, summarise_head_measures
from aging_model.evaluation.held_out import DETAIL_SIZE
from aging_model.evaluation.judged_sampling import (
    in_window,
    matched_real_faces,
    sample,
    sheet_order,
    stratified_choice,
)
from aging_model.evaluation.proportions import proportions_row
from aging_model.evaluation.realism_test import realism_features, realism_test
from aging_model.prototypes.aging import AGING_PADDING
from preprocessing.alignment import TEMPLATE_CHIP_SIZE, align_face, padding_pixels, template_for

log = logging.getLogger(__name__)

HEAD_MEASURE_AGE = 80
FACE_NECK_GOAL = 6.0  # L units: the most the face may lighten or darken against the neck at 80
# Real faces "of" a target age: held-out faces whose labelled age lies in the window.
REAL_WINDOWS = {3: (2, 4), 8: (7, 9), 13: (12, 14), 25: (23, 27), 45: (42, 48), 75: (70, 80)}
OWN_AGE = "own age"  # the realism test's floor: faces rendered at their own estimated age
READERS = ("estimator", "judge")


@dataclass(frozen=True)
class JudgedSet:
    """Held-out faces of one age range, the targets their readings are judged at, and the realism targets."""

    name: str
    ages: tuple[int, int]  # labelled ages, inclusive
    targets: tuple[int, ...]
    within_years: float  # of how real faces of the target age read (issue 17)
    realism_targets: tuple[int, ...]

    def render_ages(self) -> list[int]:
        return sorted({*self.targets, *self.realism_targets, HEAD_MEASURE_AGE})


ADULTS = JudgedSet("adults", (20, 60), (3, 8, 13), 3.0, (3, 8, 75))
CHILDREN = JudgedSet("children", (1, 7), (25, 45, 75), 6.0, (45, 75))
SHEET_FACES = {"adults": 16, "children": 8}


@dataclass
class ChipPhoto:
    """A dataset chip as the photo the pipeline is given, and its face aligned as the pipeline aligns faces."""

    photo: np.ndarray  # the chip's own pixels (H, W, 3)
    matrix: np.ndarray  # photo -> padded crop, 2x3
    padded: np.ndarray  # (P, P, 3): the DETAIL_SIZE chip framing with the aging margin

    @property
    def detail_matrix(self) -> np.ndarray:
        """photo -> the DETAIL_SIZE crop inside the margin (the matrix the pipeline pastes the aged face by)."""
        pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
        return self.matrix - np.array([[0, 0, pad], [0, 0, pad]], np.float64)

    def photo_box(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) of the padded frame that shows the photo (beyond: its border repeated)."""
        height, width = self.photo.shape[:2]
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
        mapped = corners @ self.matrix[:, :2].T + self.matrix[:, 2]
        size = self.padded.shape[0]
        (left, top), (right, bottom) = np.clip(mapped.min(0), 0, size), np.clip(mapped.max(0), 0, size)
        return int(np.ceil(left)), int(np.floor(right)), int(np.ceil(top)), int(np.floor(bottom))

    def frame(self, image: np.ndarray, detector=None) -> np.ndarray:
        """`image` (the photo, or a composite of it) seen in the padded crop's frame; with a `detector`, in the frame
        of the face found in `image` itself nearest the chip's face (as a real photo of that age is aligned), so a
        change of the face's size or place cannot move the readings by moving the face in the readers' crop."""
        size = self.padded.shape[0]
        found = detector.detect(image) if detector is not None else []
        if not found:
            return cv2.warpAffine(
                image, self.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        centre = cv2.invertAffineTransform(self.matrix) @ np.array([size / 2, size / 2, 1.0])
        nearest = min(found, key=lambda face: float(np.linalg.norm(face.landmarks.mean(axis=0) - centre)))
        return align_face(image, nearest.landmarks, DETAIL_SIZE, AGING_PADDING).pixels


def align_chips(data: Path, cache_dir: Path, faces: list) -> dict[str, ChipPhoto]:
    """Each readable chip by file name, aligned at DETAIL_SIZE with the aging margin from its five MTCNN
    landmarks (cached in `cache_dir` as every training run caches them); a chip without plausible landmarks is
    framed as it is (the chip framing is the template's)."""
    import hashlib

    from aging_model.data import _plausible_chip_landmarks, chip_landmarks, read_rgb

    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:8]
    landmarks = chip_landmarks(faces, Path(cache_dir) / f"landmarks-{key}.npz")
    chips = {}
    for face in faces:
        pixels = read_rgb(face.path)
        if pixels is None:
            continue
        marks = landmarks.get(face.path.name)
        if marks is None or np.isnan(marks).any() or not _plausible_chip_landmarks(marks):
            marks = template_for(TEMPLATE_CHIP_SIZE) * (pixels.shape[1] / TEMPLATE_CHIP_SIZE)
        aligned = align_face(pixels, marks, DETAIL_SIZE, AGING_PADDING)
        chips[face.path.name] = ChipPhoto(pixels, aligned.matrix, aligned.pixels)
    return chips


def render_as_served(
    pipeline,
    chips: Sequence[ChipPhoto],
    ages: Sequence[float],
    own_age: bool = False,
    batch: int = 16,
    realigned: bool = False,
    realigned_too: Sequence[float] = (),
) -> dict:
    """Each chip aged to `ages` (and, with `own_age`, last to its own estimated age) as `faceage age` ages a face
    of a photo: the pipeline's own aging step (it reads the face's age and gender and renders with its renderer)
    and its own compositing (the aged face pasted into the photo, with whatever else it changes there, such as
    hair). Returns the composites seen in each face's padded frame (`realigned`: in the frame of the aged face
    found again, see `ChipPhoto.frame`), served (N, A, P, P, 3), the estimated input ages and the gender
    conditions; and, for the ages `realigned_too` (of `ages`), the composites also seen in the aged face's own
    frame, realigned (N, len(realigned_too), P, P, 3)."""
    from aging_model.pipeline import FaceResult, _PreparedPhoto
    from preprocessing.loading import Photo
    from preprocessing.quality import QualityReport

    pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
    usable = QualityReport(1.0, float(DETAIL_SIZE), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, usable=True)
    resolution = pipeline.model.resolution
    details = [np.ascontiguousarray(c.padded[pad : pad + DETAIL_SIZE, pad : pad + DETAIL_SIZE]) for c in chips]
    # The model-size crop is the same alignment at the model's resolution, as the pipeline makes it.
    small = [cv2.resize(detail, (resolution, resolution), interpolation=cv2.INTER_AREA) for detail in details]
    own = pipeline.estimator.estimate(np.stack(small)).ages if own_age else [None] * len(details)
    photos = []
    for chip, detail, aligned, age in zip(chips, details, small, own):
        face = FaceResult(
            box=np.zeros(4),
            quality=usable,
            aligned=aligned,
            detail=detail,
            padded_detail=chip.padded,
            matrix=chip.detail_matrix,
        )
        face_ages = [float(a) for a in ages] + ([float(age)] if own_age else [])
        photo = Photo(chip.photo, (chip.photo.shape[1], chip.photo.shape[0]), "JPEG")
        photos.append(_PreparedPhoto(photo, face_ages, "auto", [face], {}))
    served, also_realigned = [], []
    detector = pipeline.detector if realigned else None
    realigned_columns = [list(ages).index(age) for age in realigned_too]
    for start in range(0, len(photos), batch):
        pipeline._age(photos[start : start + batch])
        for chip, prepared in zip(chips[start : start + batch], photos[start : start + batch]):
            result = pipeline._composite(prepared, photos_aged_together=1)
            served.append(np.stack([chip.frame(composite, detector) for composite in result.composites]))
            if realigned_columns:
                composites = [result.composites[c] for c in realigned_columns]
                also_realigned.append(np.stack([chip.frame(c, pipeline.detector) for c in composites]))
    faces = [photo.faces[0] for photo in photos]
    return {
        "served": np.stack(served),
        "realigned": np.stack(also_realigned) if also_realigned else None,
        "estimated_age": np.array([face.estimated_age for face in faces], dtype=np.float64),
        "gender_condition": np.array([face.gender_condition for face in faces], dtype=np.float64),
    }


class _Readers:
    """Both readers, with the judge's descriptors of real faces cached on disk by file name (they depend only
    on the alignment), and the descriptors of every face read kept for the realism test."""

    def __init__(self, estimator, judge, cache_path: Path | None):
        self.estimator, self.judge, self.cache_path = estimator, judge, cache_path
        self._cached: dict[str, np.ndarray] = {}
        if cache_path is not None and cache_path.exists():
            with np.load(cache_path) as stored:
                self._cached = dict(zip(stored["names"].tolist(), stored["descriptors"]))

    def descriptors(self, crops: np.ndarray, names: list[str] | None = None) -> np.ndarray:
        if names is None:
            return self.judge.descriptors(crops)
        missing = [i for i, name in enumerate(names) if name not in self._cached]
        if missing:
            for i, descriptor in zip(missing, self.judge.descriptors(crops[missing])):
                self._cached[names[i]] = descriptor
            self._save()
        return np.stack([self._cached[name] for name in names]) if names else np.zeros((0, 128), np.float32)

    def read(self, crops: np.ndarray, names: list[str] | None = None) -> dict:
        descriptors = self.descriptors(crops, names)
        estimated = self.estimator.estimate(crops).ages if len(crops) else np.zeros(0)
        return {
            "estimator": np.asarray(estimated, np.float64),
            "judge": self.judge.read_descriptors(descriptors),
            "descriptors": descriptors,
        }

    def _save(self) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp.npz")
        np.savez(tmp, names=np.array(list(self._cached)), descriptors=np.stack(list(self._cached.values())))
        tmp.replace(self.cache_path)


def _summary(values: np.ndarray) -> dict:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values))} if len(values) else {"mean": None, "sd": None}


def _crops(padded: np.ndarray) -> np.ndarray:
    pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
    return padded[:, pad : pad + DETAIL_SIZE, pad : pad + DETAIL_SIZE]


@dataclass
class JudgedFaces:
    """Every face one judged run needs, chosen before anything is rendered (and the same on every run)."""

    faces: list  # the held-out faces that are aged
    real: dict[int, list]  # per reading target: held-out faces of that age
    realism_real: dict  # per realism target (and OWN_AGE): training-split faces of that age


def choose_faces(train: list, val: list, judged: JudgedSet, count: int, real_per_target: int, seed: int) -> JudgedFaces:
    """The faces of one set: `count` held-out faces of its ages (varied, see `stratified_choice`), at most
    `real_per_target` held-out faces of each target age, and as many training faces of each realism target as
    there are aged faces (at the own age: one of the same age and gender per face)."""
    faces = stratified_choice([f for f in val if judged.ages[0] <= f.age <= judged.ages[1]], count, seed)
    real = {t: sample(in_window(val, REAL_WINDOWS[t]), real_per_target, seed) for t in judged.targets}
    realism_real: dict = {
        t: sample(in_window(train, REAL_WINDOWS[t]), len(faces), seed) for t in judged.realism_targets
    }
    realism_real[OWN_AGE] = matched_real_faces(faces, train, seed)
    return JudgedFaces(faces, real, realism_real)


def evaluate_judges(
    pipeline,
    judge,
    data: Path,
    cache_dir: Path,
    adults: int = 64,
    children: int = 48,
    real_per_target: int = 64,
    seed: int = 0,
    landmarker=None,
) -> tuple[dict, dict]:
    """Every judged measure of the pipeline's renderer on held-out faces of `data` (a UTKFace-style folder);
    returns (metrics, arrays for the sheets)."""
    from aging_model.data import index_folder, split_faces

    began = time.monotonic()
    train, val = split_faces(index_folder(Path(data)).faces)
    chosen = {
        judged: choose_faces(train, val, judged, count, real_per_target, seed)
        for judged, count in ((ADULTS, adults), (CHILDREN, children))
    }
    for judged, faces in chosen.items():
        if len(faces.faces) < 2:
            raise ValueError(f"too few held-out {judged.name} ({len(faces.faces)}) in {data}")
    # One alignment for all of them (the landmarks of the chips are cached in `cache_dir`).
    needed = {
        f.path.name: f
        for faces in chosen.values()
        for group in (faces.faces, *faces.real.values(), *faces.realism_real.values())
        for f in group
    }
    chips = align_chips(data, cache_dir, [needed[name] for name in sorted(needed)])
    for plan in chosen.values():  # an unreadable chip drops out
        plan.faces = [f for f in plan.faces if f.path.name in chips]
        plan.real = {t: [f for f in faces if f.path.name in chips] for t, faces in plan.real.items()}
        plan.realism_real = {t: [f for f in faces if f.path.name in chips] for t, faces in plan.realism_real.items()}

    def padded(faces: list) -> np.ndarray:
        size = DETAIL_SIZE + 2 * padding_pixels(DETAIL_SIZE, AGING_PADDING)
        return np.stack([chips[f.path.name].padded for f in faces]) if faces else np.zeros((0, size, size, 3), np.uint8)

    readers = _Readers(pipeline.estimator, judge, Path(cache_dir) / f"judge-real-descriptors-{DETAIL_SIZE}.npz")
    if landmarker is None:
        from preprocessing.landmarks import DenseLandmarker

        landmarker = pipeline.landmarker or DenseLandmarker()
    metrics: dict = {
        "renderer": pipeline.settings.renderer,
        "seed": seed,
        "judge": {"validation_mae": judge.info.get("validation", {}).get("mae"), "weights": judge.info},
        "sets": {},
        "readings": [],
        "realism": [],
    }
    arrays: dict = {}
    for judged, plan in chosen.items():
        faces, inputs_padded = plan.faces, padded(plan.faces)
        log.info("%s: rendering %d faces", judged.name, len(faces))
        render_ages = judged.render_ages()
        served = render_as_served(
            pipeline, [chips[f.path.name] for f in faces], render_ages, own_age=True, realigned_too=judged.targets
        )
        frames = served["served"]  # (N, A + 1, P, P, 3): the render ages, then the own age, in the padded frame
        aged = _crops(frames.reshape(-1, *frames.shape[2:])).reshape(*frames.shape[:2], DETAIL_SIZE, DETAIL_SIZE, 3)
        columns = [*render_ages, OWN_AGE]
        inputs = readers.read(_crops(inputs_padded), [f.path.name for f in faces])
        outputs = readers.read(aged.reshape(-1, *aged.shape[2:]))
        reading = {k: v.reshape(len(faces), len(columns), *v.shape[1:]) for k, v in outputs.items()}
        labels = np.array([f.age for f in faces], np.float64)
        metrics["sets"][judged.name] = {
            "faces": [f.path.name for f in faces],
            "label_age": _summary(labels),
            "input_read_as": {r: _summary(inputs[r]) for r in READERS},
            "input_mae": {r: float(np.abs(inputs[r] - labels).mean()) for r in READERS},
            "estimated_own_age": _summary(served["estimated_age"]),
            "render_ages": render_ages,
        }

        # Readings of the aged faces next to real held-out faces of the target age.
        for target, real_faces in plan.real.items():
            real = readers.read(_crops(padded(real_faces)), [f.path.name for f in real_faces])
            metrics["readings"].append(_reading_row(judged, target, reading, columns.index(target), real, real_faces))

        # Realism: aged against real training-split faces of the target age; at the own age, the floor.
        for target, real_faces in plan.realism_real.items():
            column = columns.index(target)
            real_crops = _crops(padded(real_faces))
            real_descriptors = readers.descriptors(real_crops, [f.path.name for f in real_faces])
            tested = realism_test(
                realism_features(aged[:, column], reading["descriptors"][:, column]),
                realism_features(real_crops, real_descriptors),
                seed,
            )
            metrics["realism"].append({"set": judged.name, "target": target, **tested})

        # The head around the face, at every render age (the goal is asked at 80).
        pad = padding_pixels(DETAIL_SIZE, AGING_PADDING)
        marks = np.stack([landmarker.landmarks(np.ascontiguousarray(c)) for c in _crops(inputs_padded)]) + pad
        photo_boxes = [chips[f.path.name].photo_box() for f in faces]
        head = {}
        for column, target in enumerate(columns[:-1]):
            aged_marks = [landmarker.landmarks(np.ascontiguousarray(a[column])) + pad for a in aged]
            per_face = [
                head_measures(p, f[column], m, box, after)
                for p, f, m, box, after in zip(inputs_padded, frames, marks, photo_boxes, aged_marks)
            ]
            head[str(target)] = summarise_head_measures(per_face, FACE_NECK_GOAL)
        metrics["sets"][judged.name]["head"] = head

        # The face's proportions at each target, next to real faces of that age, each face in its own frame (a
        # grown child's chin leaves the input's frame).
        for target, real_faces in plan.real.items():
            own_frames = _crops(served["realigned"][:, judged.targets.index(target)])
            grown_marks = [landmarker.landmarks(np.ascontiguousarray(c)) for c in own_frames]
            real_marks = [landmarker.landmarks(np.ascontiguousarray(c)) for c in _crops(padded(real_faces))]
            metrics.setdefault("proportions", []).append(proportions_row(judged.name, target, grown_marks, real_marks))

        arrays[judged.name] = {
            "inputs": _crops(inputs_padded),
            "aged": aged,
            "columns": columns,
            "targets": judged.targets,
            "readings": {r: reading[r] for r in READERS},
            "input_readings": {r: inputs[r] for r in READERS},
            "labels": labels,
            "sheet_order": sheet_order([f.path.name for f in faces]),
        }
    metrics["goals"] = judged_goals(metrics)
    metrics["wall_seconds"] = round(time.monotonic() - began, 1)
    return metrics, arrays


def _reading_row(judged: JudgedSet, target: int, reading: dict, column: int, real: dict, real_faces: list) -> dict:
    """How the aged faces read at one target, against how real faces of that age read, for both readers."""
    row: dict = {"set": judged.name, "target": target, "within_years": judged.within_years}
    row["aged"] = {r: _summary(reading[r][:, column]) for r in READERS}
    row["real"] = {
        "window": list(REAL_WINDOWS[target]),
        "faces": len(real_faces),
        "label_age": _summary(np.array([f.age for f in real_faces], np.float64)),
        **{r: _summary(real[r]) for r in READERS},
    }
    row["gap"] = {r: (row["aged"][r]["mean"] - row["real"][r]["mean"]) if real_faces else None for r in READERS}
    row["met"] = {r: None if g is None else bool(abs(g) <= judged.within_years) for r, g in row["gap"].items()}
    return row


def judged_goals(metrics: dict) -> dict:
    """Issue 17's goals, per reader: aged faces read within 3 (children's targets) or 6 years (adults' targets)
    of real faces of that age; the face against the neck changes by at most FACE_NECK_GOAL at 80."""
    goals = {}
    for row in metrics["readings"]:
        for reader, met in row["met"].items():
            name = f"{row['set']} aimed at {row['target']} read within {row['within_years']:g} years of real faces"
            goals[f"{name} ({reader})"] = met
    for name, judged in metrics["sets"].items():
        at = judged["head"].get(str(HEAD_MEASURE_AGE))
        if at is None:
            continue
        change = at["face_minus_neck_mean_abs_change"]  # None where no chip shows a neck
        goal = f"{name} at {HEAD_MEASURE_AGE}: face against neck changes by <= {FACE_NECK_GOAL:g} L (mean |change|)"
        goals[goal] = None if change is None else bool(change <= FACE_NECK_GOAL)
    return goals
