"""A photo's whole journey: load -> detect -> align -> assess -> age -> paste back.

Used by `faceage age` and by the workers; it returns arrays and small dataclasses and writes nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from aging_model.age_groups import GROUP_CENTRES, age_to_group
from aging_model.caae.inference import AgingModel
from aging_model.estimator.age_gender import AgeGenderEstimator
from aging_model.hair import HairRecolour
from aging_model.neck import NeckSkin
from aging_model.renderers import DEFAULT_RENDERER, Renderer, make_renderer
from preprocessing.alignment import align_face, padding_pixels
from preprocessing.compositing import RENDERING_WEIGHT, FacePatch, as_pasted, paste_faces
from preprocessing.detection import DetectedFace, FaceDetector
from preprocessing.errors import NoUsableFace, PhotoError
from preprocessing.landmarks import DenseLandmarker
from preprocessing.loading import DEFAULT_MAX_SIDE, Photo, load_photo
from preprocessing.quality import ANALYSIS_SIZE, QualityReport, QualityThresholds, assess_face, refusal_messages

DEFAULT_AGES = (5, 20, 40, 60, 80)
DETAIL_MAX_SIZE = 512
GENDER_WEIGHTS = {"male": 0.0, "female": 1.0}  # the weight of "female" in the generator's gender condition
GENDER_CHOICES = ("auto", "male", "female")
# What to try instead, per reason a face is refused, for the message of a photo where none can be aged.
_ADVICE = {
    "face_too_small": "a larger photo or one taken closer",
    "extreme_pose": "a photo where the faces look at the camera",
    "low_detection_probability": "a photo where the faces are clearly visible",
}


@dataclass(frozen=True)
class PipelineSettings:
    max_faces: int = 10
    max_side: int | None = DEFAULT_MAX_SIDE  # None keeps the photo at full size
    blend: str = "feather"
    thresholds: QualityThresholds = QualityThresholds()
    renderer: str = DEFAULT_RENDERER  # one of renderers.RENDERER_NAMES, when no Renderer is given
    rendering_weight: float = RENDERING_WEIGHT  # "caae" renderer: share of the generator's own face


@dataclass
class FaceResult:
    """One face: where it is, how good it is, and either why it is left out or its aligned crop and one image
    per age."""

    box: np.ndarray  # in the original photo's pixels
    quality: QualityReport
    left_out: dict[str, str] = field(default_factory=dict)  # reason code -> a sentence for the user; {} if aged
    aligned: np.ndarray | None = None  # the model's input, (R, R, 3)
    detail: np.ndarray | None = None  # the same alignment at up to DETAIL_MAX_SIZE, for output
    padded_detail: np.ndarray | None = None  # `detail` with the renderer's padding of the photo around it
    matrix: np.ndarray | None = None  # working photo -> detail crop
    landmarks: np.ndarray | None = None  # dlib's 68 points in `detail`'s pixels, where the renderer has a landmarker
    aged_landmarks: np.ndarray | None = None  # (n_ages, 68, 2): where the renderer moved them, if it moves them
    estimated_age: float | None = None  # the estimator's reading of the input face
    female_probability: float | None = None  # the estimator's reading of the input face
    gender_condition: float | None = None  # the weight of "female" the generator was given
    own_age_group: int | None = None  # the face's current age group: the baseline of the aging change
    generated: np.ndarray | None = None  # raw generator output per age, (n_ages, R, R, 3)
    aged: np.ndarray | None = None  # per age, the detail crop aged by the renderer, (n_ages, D, D, 3)
    # The renderer's crops with their margin of the photo (n_ages, P, P, 3), until they are pasted back.
    aged_with_margin: np.ndarray | None = None

    @property
    def own_age(self) -> float:
        """The age the face is aged from: the estimator's reading, else its group's centre."""
        if self.estimated_age is not None:
            return self.estimated_age
        return float(GROUP_CENTRES[self.own_age_group]) if self.own_age_group is not None else 30.0


@dataclass
class PhotoResult:
    photo: Photo
    ages: list[float]
    faces: list[FaceResult]
    composites: list[np.ndarray] = field(default_factory=list)  # one per age, every usable face aged
    timings: dict[str, float] = field(default_factory=dict)
    photos_aged_together: int = 1  # photos whose faces shared this photo's model call

    @property
    def aged_faces(self) -> list[FaceResult]:
        return [f for f in self.faces if f.aged is not None]


@dataclass(frozen=True)
class PhotoRequest:
    source: str | Path | bytes
    ages: Sequence[float] = DEFAULT_AGES
    gender: str = "auto"


@dataclass
class _PreparedPhoto:
    """A photo detected, aligned and assessed, waiting for the model."""

    photo: Photo
    ages: list[float]
    gender: str
    faces: list[FaceResult]
    timings: dict[str, float]

    @property
    def to_age(self) -> list[FaceResult]:
        return [f for f in self.faces if not f.left_out]


class AgingPipeline:
    """The detector and the model, loaded once, applied to photo after photo."""

    def __init__(
        self,
        model: AgingModel,
        detector: FaceDetector | None = None,
        settings: PipelineSettings = PipelineSettings(),
        estimator: AgeGenderEstimator | None = None,
        renderer: Renderer | None = None,
    ):
        """`renderer` makes the aged faces; without one, the renderer `settings.renderer` names."""
        self.renderer = renderer or make_renderer(settings.renderer, settings.rendering_weight)
        self.model = model
        self.detector = detector or FaceDetector(device=str(model.device))
        self.settings = settings
        self.estimator = estimator

    @property
    def landmarker(self) -> DenseLandmarker | None:
        """The renderer's dense landmarker, when it has one (the morph reuses it rather than load another)."""
        return getattr(self.renderer, "landmarker", None)

    def run(
        self,
        source: str | Path | bytes,
        ages=DEFAULT_AGES,
        gender: str = "auto",
        on_stage: Callable[[str, float], None] | None = None,
    ) -> PhotoResult:
        """Age every usable face in a photo; raises a PhotoError (with a reason for the user) if none is.

        `gender` is the generator's gender condition: "male", "female", or "auto" (each face's own, as the
        estimator reads it; an even mix of both when there is no estimator). `on_stage(stage, fraction)` is
        told when each stage starts (loading, detecting, aging, compositing), for progress reports.
        """
        report = (lambda index, stage, fraction: on_stage(stage, fraction)) if on_stage else None
        [outcome] = self.run_many([PhotoRequest(source, tuple(ages), gender)], on_stage=report)
        if isinstance(outcome, PhotoError):
            raise outcome
        return outcome

    def run_many(
        self,
        requests: Sequence[PhotoRequest],
        on_stage: Callable[[int, str, float], None] | None = None,
    ) -> list[PhotoResult | PhotoError]:
        """Several photos, each with its own ages and gender: detected one by one, their faces aged together
        in one model call (where a GPU makes batching pay), then composited one by one.

        Returns, per request, its PhotoResult or the PhotoError that explains why it has none;
        `on_stage(index, stage, fraction)` reports each photo's progress.
        """
        for request in requests:
            if request.gender not in GENDER_CHOICES:
                raise ValueError(f"gender must be one of {', '.join(GENDER_CHOICES)}, not {request.gender!r}")
        report = on_stage or (lambda index, stage, fraction: None)
        prepared: list[_PreparedPhoto | PhotoError] = []
        for index, request in enumerate(requests):
            try:
                prepared.append(self._prepare_photo(request, functools.partial(report, index)))
            except PhotoError as error:
                prepared.append(error)
        ready = [(index, p) for index, p in enumerate(prepared) if isinstance(p, _PreparedPhoto)]
        for index, _ in ready:
            report(index, "aging", 0.4)
        if ready:
            began = time.perf_counter()
            self._age([p for _, p in ready])
            for _, p in ready:  # a shared call: every photo in it waited for all of it
                p.timings["age"] = time.perf_counter() - began
        results: list[PhotoResult | PhotoError] = list(prepared)
        for index, p in ready:
            report(index, "compositing", 0.8)
            results[index] = self._composite(p, photos_aged_together=len(ready))
        return results

    def _prepare_photo(self, request: PhotoRequest, report: Callable[[str, float], None]) -> _PreparedPhoto:
        timings: dict[str, float] = {}
        report("loading", 0.0)
        with _timed(timings, "load"):
            photo = load_photo(request.source, max_side=self.settings.max_side)
        report("detecting", 0.1)
        with _timed(timings, "detect"):
            detected = self.detector.detect(photo.pixels, max_faces=None)
        if not detected:
            raise NoUsableFace("no face found in the photo; use a photo where the face is clearly visible")
        with _timed(timings, "align"):
            faces = [self._assess(photo, face) for face in detected]
            kept = [(face, found) for face, found in zip(faces, detected) if not face.left_out]
            limit = self.settings.max_faces
            for face, _ in kept[limit:]:  # faces come largest first
                face.left_out = {"too_many_faces": f"Only {limit} faces of a photo are aged, the largest first."}
            for face, found in kept[:limit]:
                self._align(photo, found, face)
        if not kept:
            reasons = sorted({r for f in faces for r in f.left_out})
            advice = " or ".join(_ADVICE[r] for r in reasons)
            raise NoUsableFace(f"found {len(faces)} face(s) but none is usable ({', '.join(reasons)}); try {advice}")
        ages = [float(a) for a in request.ages]
        return _PreparedPhoto(photo, ages, request.gender, faces, timings)

    def _composite(self, prepared: _PreparedPhoto, photos_aged_together: int) -> PhotoResult:
        aged = prepared.to_age
        with _timed(prepared.timings, "paste"):
            boxes = [face.box * prepared.photo.scale for face in prepared.faces]  # every face found, in working pixels
            hair = [
                HairRecolour.find(
                    prepared.photo.pixels,
                    f.matrix,
                    f.detail.shape[0],
                    [b for g, b in zip(prepared.faces, boxes) if g is not f],
                )
                for f in aged
            ]
            necks = [_neck(prepared.photo.pixels, f) for f in aged]
            composites = []
            for i, age in enumerate(prepared.ages):
                composite = paste_faces(prepared.photo.pixels, [_patch(f, i, age) for f in aged], self.settings.blend)
                for face, face_hair, neck in zip(aged, hair, necks):
                    if face_hair is not None:
                        face_hair.apply(composite, face.own_age, age)
                    if neck is not None:
                        jaw = (face.landmarks if face.aged_landmarks is None else face.aged_landmarks[i])[:17]
                        neck.apply(composite, face.own_age, age, jaw)
                # Each face's own images show what the photo shows: its hair greyed or darkened with it, its neck.
                for face, face_hair, neck in zip(aged, hair, necks):
                    if face_hair is not None or neck is not None:
                        face.aged[i] = as_pasted(composite, FacePatch(face.aged[i], face.matrix))
                composites.append(composite)
        for face in aged:
            face.aged_with_margin = None  # pasted: only the chip framing is kept (for the face's own files)
        return PhotoResult(
            photo=prepared.photo,
            ages=prepared.ages,
            faces=prepared.faces,
            composites=composites,
            timings=prepared.timings,
            photos_aged_together=photos_aged_together,
        )

    def _assess(self, photo: Photo, face: DetectedFace) -> FaceResult:
        analysis = align_face(photo.pixels, face.landmarks, ANALYSIS_SIZE)
        quality = assess_face(face, analysis.pixels, photo.scale, self.settings.thresholds)
        left_out = refusal_messages(quality, self.settings.thresholds)
        return FaceResult(box=face.box / photo.scale, quality=quality, left_out=left_out)

    def _align(self, photo: Photo, face: DetectedFace, result: FaceResult) -> None:
        """The model's input and the larger crop the renderer ages; a small face is enlarged to the model's
        resolution (dlib's 68 landmarks measured on such a crop of a 32 px face sit about 1 px of the photo
        from those of the same face 88 px tall)."""
        result.aligned = align_face(photo.pixels, face.landmarks, self.model.resolution).pixels
        detail_size = int(np.clip(face.size * 1.2, self.model.resolution, DETAIL_MAX_SIZE))
        if self.renderer.padding:
            # One warp gives both: the chip framing is the middle of the padded crop.
            # Beyond the photo's edge (a forehead cut off by the frame) the margin mirrors the photo: a renderer's warp
            # that pulls the margin in (a child's face grown against its skull) then shows skin and hair, not the
            # edge's pixels repeated into streaks.
            padded = align_face(
                photo.pixels, face.landmarks, detail_size, self.renderer.padding, border=cv2.BORDER_REFLECT_101
            )
            pad = padding_pixels(detail_size, self.renderer.padding)
            result.padded_detail = padded.pixels
            result.detail = padded.pixels[pad : pad + detail_size, pad : pad + detail_size].copy()
            result.matrix = padded.matrix - np.array([[0, 0, pad], [0, 0, pad]], np.float64)
        else:
            detail = align_face(photo.pixels, face.landmarks, detail_size)
            result.detail, result.matrix = detail.pixels, detail.matrix
        if self.landmarker is not None:
            result.landmarks = self.landmarker.landmarks(result.detail)

    def _age(self, photos: list[_PreparedPhoto]) -> None:
        """Render every usable face of every photo at its photo's ages and at the face's current age (the
        baseline of the change transferred onto the sharper crop): one model call per count of ages."""
        faces = [(photo, face) for photo in photos for face in photo.to_age]
        self._read_age_and_gender([face for _, face in faces])
        for photo, face in faces:
            if photo.gender in GENDER_WEIGHTS:
                face.gender_condition = GENDER_WEIGHTS[photo.gender]
            else:
                face.gender_condition = face.female_probability if face.female_probability is not None else 0.5
        for n_ages in sorted({len(photo.ages) for photo in photos}):
            group = [(photo, face) for photo, face in faces if len(photo.ages) == n_ages]
            rendered = self.model.age_faces(
                np.stack([face.aligned for _, face in group]),
                [[*photo.ages, *self._baseline_ages(face)] for photo, face in group],
                [face.gender_condition for _, face in group],
            )
            for (photo, face), images in zip(group, rendered):
                self._transfer_from_baseline(face, photo.ages, images[:n_ages], images[n_ages:])

    def _read_age_and_gender(self, faces: list[FaceResult]) -> None:
        if self.estimator is None:
            return
        estimate = self.estimator.estimate(np.stack([f.aligned for f in faces]))
        for face, age, female in zip(faces, estimate.ages, estimate.female_probability):
            face.estimated_age, face.female_probability = float(age), float(female)

    def _baseline_ages(self, face: FaceResult) -> list[float]:
        """The face's estimated age; without an estimator, every group centre (the closest rendering wins)."""
        return [face.estimated_age] if self.estimator is not None else list(GROUP_CENTRES)

    def _transfer_from_baseline(
        self,
        face: FaceResult,
        ages: list[float],
        generated: np.ndarray,
        baselines: np.ndarray,
    ) -> None:
        if self.estimator is not None:
            face.own_age_group = age_to_group(face.estimated_age)
            own_age, baseline = face.estimated_age, baselines[0]
        else:
            errors = np.abs(baselines.astype(np.int16) - face.aligned.astype(np.int16)).mean(axis=(1, 2, 3))
            face.own_age_group = int(np.argmin(errors))
            own_age, baseline = float(GROUP_CENTRES[face.own_age_group]), baselines[face.own_age_group]
        face.generated = generated
        rendered = self.renderer.render(face, ages, own_age, generated, baseline)
        margin = (rendered.shape[1] - face.detail.shape[0]) // 2
        face.aged = np.ascontiguousarray(
            rendered[:, margin : rendered.shape[1] - margin, margin : rendered.shape[2] - margin]
        )
        face.aged_with_margin = rendered if margin else None


def _patch(face: FaceResult, index: int, age: float) -> FacePatch:
    """The face at one age as it is pasted back: made younger, with the renderer's margin where it kept one (the
    prototype renderer pins its warp beyond the jaw going young, so all that moves lies in the part pasted whole;
    going old its warp reaches the crop's border, and a child's face grown whole read as stretched)."""
    if face.aged_with_margin is None or age >= face.own_age:
        return FacePatch(face.aged[index], face.matrix)
    margin = (face.aged_with_margin.shape[1] - face.aged.shape[1]) // 2
    matrix = face.matrix + np.array([[0, 0, margin], [0, 0, margin]], np.float64)
    return FacePatch(face.aged_with_margin[index], matrix, margin=margin)


def _neck(photo: np.ndarray, face: FaceResult) -> NeckSkin | None:
    """The face's neck in the photo, where its jaw line is known."""
    if face.landmarks is None:
        return None
    return NeckSkin.find(photo, face.matrix, face.detail.shape[0], face.landmarks[:17])


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - began
