"""A photo's whole journey: load -> detect -> align -> assess -> age -> paste back.

Used by `faceage age` and by the workers; it returns arrays and small dataclasses and writes nothing.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from aging_model.age_groups import GROUP_CENTRES, age_to_group
from aging_model.estimator import AgeGenderEstimator
from aging_model.inference import AgingModel
from preprocessing.alignment import align_face
from preprocessing.compositing import FacePatch, paste_faces, transfer_aging
from preprocessing.detection import FaceDetector
from preprocessing.errors import NoUsableFace
from preprocessing.loading import DEFAULT_MAX_SIDE, Photo, load_photo
from preprocessing.quality import ANALYSIS_SIZE, QualityReport, QualityThresholds, assess_face

DEFAULT_AGES = (5, 20, 40, 60, 80)
DETAIL_MAX_SIZE = 512
GENDER_WEIGHTS = {"male": 0.0, "female": 1.0}  # the weight of "female" in the generator's gender condition
GENDER_CHOICES = ("auto", "male", "female")


@dataclass(frozen=True)
class PipelineSettings:
    max_faces: int = 10
    max_side: int | None = DEFAULT_MAX_SIDE  # None keeps the photo at full size
    blend: str = "feather"
    thresholds: QualityThresholds = QualityThresholds()


@dataclass
class FaceResult:
    """One face: where it is, how good it is, and (when usable) its aligned crop and one image per age."""

    box: np.ndarray  # in the original photo's pixels
    quality: QualityReport
    aligned: np.ndarray | None = None  # the model's input, (R, R, 3)
    detail: np.ndarray | None = None  # the same alignment at up to DETAIL_MAX_SIZE, for output
    matrix: np.ndarray | None = None  # working photo -> detail crop
    estimated_age: float | None = None  # the estimator's reading of the input face
    female_probability: float | None = None  # the estimator's reading of the input face
    gender_condition: float | None = None  # the weight of "female" the generator was given
    own_age_group: int | None = None  # the face's current age group: the baseline of the aging change
    generated: np.ndarray | None = None  # raw generator output per age, (n_ages, R, R, 3)
    aged: np.ndarray | None = None  # per age, the detail crop with the generator's change applied


@dataclass
class PhotoResult:
    photo: Photo
    ages: list[float]
    faces: list[FaceResult]
    composites: list[np.ndarray] = field(default_factory=list)  # one per age, every usable face aged
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def aged_faces(self) -> list[FaceResult]:
        return [f for f in self.faces if f.aged is not None]


class AgingPipeline:
    """The detector and the model, loaded once, applied to photo after photo."""

    def __init__(
        self, model: AgingModel, detector: FaceDetector | None = None, settings: PipelineSettings = PipelineSettings(),
        estimator: AgeGenderEstimator | None = None,
    ):
        self.model = model
        self.detector = detector or FaceDetector(device=str(model.device))
        self.settings = settings
        self.estimator = estimator

    def run(
        self, source: str | Path | bytes, ages=DEFAULT_AGES, gender: str = "auto",
        on_stage: Callable[[str, float], None] | None = None,
    ) -> PhotoResult:
        """Age every usable face in a photo; raises a PhotoError (with a reason for the user) if none is.

        `gender` is the generator's gender condition: "male", "female", or "auto" (each face's own, as the
        estimator reads it; an even mix of both when there is no estimator). `on_stage(stage, fraction)` is
        told when each stage starts (loading, detecting, aging, compositing), for progress reports.
        """
        if gender not in GENDER_CHOICES:
            raise ValueError(f"gender must be one of {', '.join(GENDER_CHOICES)}, not {gender!r}")
        report = on_stage or (lambda stage, fraction: None)
        timings: dict[str, float] = {}
        report("loading", 0.0)
        with _timed(timings, "load"):
            photo = load_photo(source, max_side=self.settings.max_side)
        report("detecting", 0.1)
        with _timed(timings, "detect"):
            detected = self.detector.detect(photo.pixels, max_faces=self.settings.max_faces)
        if not detected:
            raise NoUsableFace("no face found in the photo; use a photo where the face is clearly visible")
        with _timed(timings, "align"):
            faces = [self._prepare(photo, face) for face in detected]
        usable = [f for f in faces if f.quality.usable]
        if not usable:
            reasons = ", ".join(sorted({r for f in faces for r in f.quality.reasons}))
            raise NoUsableFace(f"found {len(faces)} face(s) but none is usable ({reasons}); try a sharper, frontal, well-lit photo")
        ages = [float(a) for a in ages]
        report("aging", 0.4)
        with _timed(timings, "age"):
            self._age(usable, ages, gender)
        report("compositing", 0.8)
        with _timed(timings, "paste"):
            composites = [
                paste_faces(photo.pixels, [FacePatch(f.aged[i], f.matrix) for f in usable], self.settings.blend)
                for i in range(len(ages))
            ]
        return PhotoResult(photo=photo, ages=ages, faces=faces, composites=composites, timings=timings)

    def _prepare(self, photo: Photo, face) -> FaceResult:
        analysis = align_face(photo.pixels, face.landmarks, ANALYSIS_SIZE)
        quality = assess_face(face, analysis.pixels, photo.scale, self.settings.thresholds)
        result = FaceResult(box=face.box / photo.scale, quality=quality)
        if quality.usable:
            result.aligned = align_face(photo.pixels, face.landmarks, self.model.resolution).pixels
            detail_size = int(np.clip(face.size * 1.2, self.model.resolution, DETAIL_MAX_SIZE))
            detail = align_face(photo.pixels, face.landmarks, detail_size)
            result.detail, result.matrix = detail.pixels, detail.matrix
        return result

    def _age(self, faces: list[FaceResult], ages: list[float], gender: str) -> None:
        """One model call renders every face at the requested ages and at its current age, the baseline of
        the change that is transferred onto the sharper crop."""
        crops = np.stack([f.aligned for f in faces])
        if self.estimator is not None:
            estimate = self.estimator.estimate(crops)
            for face, age, female in zip(faces, estimate.ages, estimate.female_probability):
                face.estimated_age, face.female_probability = float(age), float(female)
        for face in faces:
            if gender in GENDER_WEIGHTS:
                face.gender_condition = GENDER_WEIGHTS[gender]
            else:
                face.gender_condition = face.female_probability if face.female_probability is not None else 0.5
        weights = [f.gender_condition for f in faces]
        if self.estimator is not None:
            self._age_from_estimate(faces, ages, crops, weights)
        else:
            self._age_from_reconstruction(faces, ages, crops, weights)

    def _age_from_estimate(self, faces, ages, crops, weights) -> None:
        # Every face needs its own baseline age, so each face gets its own call (one face is the usual case).
        for face, crop, weight in zip(faces, crops, weights):
            images = self.model.age_faces(crop[None], [*ages, face.estimated_age], [weight])[0]
            face.own_age_group = age_to_group(face.estimated_age)
            self._transfer(face, images[: len(ages)], images[-1])

    def _age_from_reconstruction(self, faces, ages, crops, weights) -> None:
        """Without an estimator, the group centre whose rendering is closest to the input is the baseline."""
        rendered = self.model.age_faces(crops, [*ages, *GROUP_CENTRES], weights)
        for face, images in zip(faces, rendered):
            at_centres = images[len(ages) :]
            errors = np.abs(at_centres.astype(np.int16) - face.aligned.astype(np.int16)).mean(axis=(1, 2, 3))
            face.own_age_group = int(np.argmin(errors))
            self._transfer(face, images[: len(ages)], at_centres[face.own_age_group])

    @staticmethod
    def _transfer(face: FaceResult, generated: np.ndarray, baseline: np.ndarray) -> None:
        face.generated = generated
        face.aged = np.stack([transfer_aging(face.detail, g, baseline) for g in generated])


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - began
