"""The per-image pass: flags that one image earns on its own, and the features the dataset-wide pass needs.

For a batch of images (decoded pixels and their labels) it detects faces (MTCNN), measures the main face
with the service's own quality report, reads its age and gender with the estimator, and embeds it with
dlib. Everything is batched: one estimator call and one embedder call per batch, MTCNN once per image size.

About the label flags: the shipped estimator (`aging_model/weights/age-gender.safetensors`) was trained on
UTKFace's training split, so its predictions are out-of-fold only for the validation split (the 5% chosen by
`aging_model.data.is_validation`). On images it trained on it has partly learned their labels, wrong ones
included, so `age_label_outlier` and `gender_label_disagrees` under-report there. These first label flags are
a quick look; `faceage dataset check-labels` (`curation.label_check`) replaces them with out-of-fold ones,
read by estimators trained on the dataset itself without the image's fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.flags import CERTAIN, CurationThresholds, Flag, flag, past_minimum
from curation.images import perceptual_hash
from curation.labels import ImageLabels
from curation.text_overlay import text_overlay_score
from preprocessing.alignment import TEMPLATE_CHIP_SIZE, align_face
from preprocessing.detection import DetectedFace
from preprocessing.quality import ANALYSIS_SIZE, QualityReport, assess_face

DEFAULT_ESTIMATOR_MAE = 5.0  # years; used when an estimator's card carries no validation MAE


@dataclass
class CurationModels:
    """The detector, the age and gender estimator (with its validation MAE) and the identity embedder."""

    detector: object  # preprocessing.detection.FaceDetector
    estimator: object  # aging_model.estimator.age_gender.AgeGenderEstimator
    # curation.embedder.TorchFaceEmbedder (or aging_model.evaluation.identity.FaceEmbedder: the same embeddings)
    embedder: object
    estimator_mae: float = DEFAULT_ESTIMATOR_MAE

    @classmethod
    def load(cls, estimator_path: str | Path | None = None, device: str = "cpu") -> CurationModels:
        """The shipped (or given) estimator; see the module docstring for why a fold-trained one is better."""
        from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
        from curation.embedder import TorchFaceEmbedder
        from preprocessing.detection import FaceDetector

        estimator = AgeGenderEstimator.load(Path(estimator_path or DEFAULT_ESTIMATOR_PATH), device=device)
        mae = estimator.card.get("metrics", {}).get("val_age_mae", DEFAULT_ESTIMATOR_MAE)
        return cls(FaceDetector(device=str(estimator.device)), estimator, TorchFaceEmbedder(), float(mae))


@dataclass(frozen=True)
class ImageToAnalyse:
    pixels: np.ndarray  # RGB uint8 (H, W, 3)
    labels: ImageLabels = ImageLabels()


@dataclass
class ImageAnalysis:
    """One image's per-image flags, and its features for the dataset-wide pass."""

    flags: list[Flag]
    perceptual_hash: str
    embedding: np.ndarray | None  # (128,) float32 of the main face; None without a face or for a young child
    measures: dict = field(default_factory=dict)


@dataclass
class _Face:
    """The main face of one image while it is being analysed."""

    detected: DetectedFace
    others: list[DetectedFace]
    quality: QualityReport
    chip: np.ndarray  # aligned to the UTKFace chip framing at TEMPLATE_CHIP_SIZE


def analyse_images(
    images: list[ImageToAnalyse], models: CurationModels, thresholds: CurationThresholds = CurationThresholds()
) -> list[ImageAnalysis]:
    """Per-image flags and features for a batch of images, in the same order."""
    if not images:
        return []
    detections = detect_faces(models.detector, [image.pixels for image in images])
    faces = [_main_face(image.pixels, found, thresholds) for image, found in zip(images, detections)]
    with_face = [i for i, face in enumerate(faces) if face is not None]
    chips = np.stack([faces[i].chip for i in with_face]) if with_face else np.zeros((0, 1, 1, 3), np.uint8)
    estimate = models.estimator.estimate(chips)
    # dlib's embedding cannot tell young children apart (the same_person pass leaves them out), so children
    # read as such are not embedded at all; it was four fifths of the time per face before it ran in PyTorch.
    adults = np.flatnonzero(estimate.ages >= thresholds.same_person_min_age)
    embeddings = dict(zip(adults.tolist(), models.embedder.embed_aligned(chips[adults])))
    results = []
    row_of = {image_index: row for row, image_index in enumerate(with_face)}
    for i, (image, face) in enumerate(zip(images, faces)):
        flags, measures = _image_flags(image.pixels, face, thresholds)
        embedding = None
        if face is not None:
            k = row_of[i]
            age, female = float(estimate.ages[k]), float(estimate.female_probability[k])
            flags += label_flags(image.labels, age, female, models.estimator_mae, thresholds)
            measures.update(estimated_age=round(age, 2), female_probability=round(female, 4))
            embedding = embeddings.get(k)
        results.append(ImageAnalysis(flags, perceptual_hash(image.pixels), embedding, measures))
    return results


def detect_faces(detector, images: list[np.ndarray]) -> list[list[DetectedFace]]:
    """Faces in every image: same-sized images (dataset chips) in one MTCNN call, large ones downscaled."""
    found: list[list[DetectedFace] | None] = [None] * len(images)
    by_shape: dict[tuple, list[int]] = {}
    for i, pixels in enumerate(images):
        if max(pixels.shape[:2]) > detector.detect_side:
            found[i] = detector.detect(pixels)
        else:
            by_shape.setdefault(pixels.shape, []).append(i)
    for members in by_shape.values():
        for i, faces in zip(members, detector.detect_batch([images[i] for i in members])):
            found[i] = faces
    return found


def _main_face(pixels: np.ndarray, faces: list[DetectedFace], thresholds: CurationThresholds) -> _Face | None:
    """The confident face nearest the centre (dataset chips are cropped around their subject), measured."""
    if not faces:
        return None
    confident = [f for f in faces if f.probability >= thresholds.quality.min_probability] or faces
    centre = np.array([pixels.shape[1], pixels.shape[0]]) / 2
    main = min(confident, key=lambda f: np.linalg.norm(f.box.reshape(2, 2).mean(axis=0) - centre))
    analysis_crop = align_face(pixels, main.landmarks, ANALYSIS_SIZE).pixels
    quality = assess_face(main, analysis_crop, thresholds=thresholds.quality)
    chip = align_face(pixels, main.landmarks, TEMPLATE_CHIP_SIZE).pixels
    return _Face(main, [f for f in faces if f is not main], quality, chip)


def _image_flags(pixels: np.ndarray, face: _Face | None, thresholds: CurationThresholds) -> tuple[list[Flag], dict]:
    height, width = pixels.shape[:2]
    flags = resolution_flags(width, height, thresholds) + text_flags(pixels)
    measures = {"width": width, "height": height, "faces": 0}
    if face is None:
        # Quality is measured on the aligned face, the pixels the models train on; without one there is
        # nothing meaningful to measure.
        return [*flags, flag("no_face", CERTAIN)], measures
    flags += face_flags(face.detected, face.others, face.quality, (width, height), thresholds)
    flags += quality_flags(face.quality, thresholds)
    report = face.quality
    measures.update(
        faces=1 + len(face.others),
        detection_probability=round(face.detected.probability, 4),
        face_share=round(face.detected.size / min(width, height), 4),
        sharpness=round(report.sharpness, 2),
        brightness=round(report.brightness, 2),
        colourfulness=round(report.colourfulness, 2),
        yaw=round(report.yaw, 3),
        pitch=round(report.pitch, 3),
        # Kept so that later passes (the out-of-fold label check) can re-align the face without detecting it.
        landmarks=np.round(face.detected.landmarks, 1).tolist(),
    )
    return flags, measures


def resolution_flags(width: int, height: int, thresholds: CurationThresholds) -> list[Flag]:
    short = min(width, height)
    if short >= thresholds.min_image_side:
        return []
    return [flag("low_resolution", past_minimum(short, thresholds.min_image_side), width=width, height=height)]


def text_flags(pixels: np.ndarray) -> list[Flag]:
    """Captions and watermarks over the photo (see curation.text_overlay for what it catches and misses)."""
    score, details = text_overlay_score(pixels)
    return [flag("text_overlay", score, **details)] if score >= 1.0 else []


def face_flags(
    main: DetectedFace,
    others: list[DetectedFace],
    quality: QualityReport,
    size: tuple[int, int],
    thresholds: CurationThresholds,
) -> list[Flag]:
    """Flags about the face itself: another face beside it, doubtful, small in the frame, cut off, turned."""
    t, flags = thresholds, []
    rivals = [
        f.size
        for f in others
        if f.probability >= t.quality.min_probability and f.size >= t.second_face_share * main.size
    ]
    if rivals:
        flags.append(flag("several_faces", max(rivals) / (t.second_face_share * main.size), faces=1 + len(rivals)))
    if main.probability < t.quality.min_probability:
        score = (1 - main.probability) / (1 - t.quality.min_probability)
        flags.append(flag("low_detection_probability", score, probability=main.probability))
    share = main.size / min(size)
    if share < t.min_face_share:
        flags.append(flag("face_too_small", past_minimum(share, t.min_face_share), face_share=share))
    flags += _cut_off(main.landmarks, size, t)
    pose = max(abs(quality.yaw) / t.quality.max_yaw, abs(quality.pitch) / t.quality.max_pitch)
    if pose > 1:
        flags.append(flag("extreme_pose", pose, yaw=quality.yaw, pitch=quality.pitch))
    return flags


def _cut_off(landmarks: np.ndarray, size: tuple[int, int], thresholds: CurationThresholds) -> list[Flag]:
    """Landmarks at (or past) the border: part of the face is outside the image."""
    width, height = size
    margin = thresholds.border_margin * min(width, height)
    x, y = landmarks[:, 0], landmarks[:, 1]
    nearest = float(np.min([x, y, width - x, height - y]))
    if nearest >= margin:
        return []
    return [flag("cut_off", past_minimum(max(nearest, 0.0), margin), landmark_to_border_px=nearest)]


def quality_flags(report: QualityReport, thresholds: CurationThresholds) -> list[Flag]:
    """Sharpness, exposure and colour of the aligned face, against the service's own limits."""
    t, flags = thresholds.quality, []
    if report.sharpness < t.min_sharpness:
        flags.append(flag("blurred", past_minimum(report.sharpness, t.min_sharpness), sharpness=report.sharpness))
    if report.brightness < t.min_brightness:
        flags.append(
            flag("underexposed", past_minimum(report.brightness, t.min_brightness), brightness=report.brightness)
        )
    if report.brightness > t.max_brightness:
        flags.append(
            flag(
                "overexposed",
                report.brightness / t.max_brightness,
                brightness=report.brightness,
                clipped_share=report.clipped_share,
            )
        )
    if report.colourfulness < t.grayscale_colourfulness:
        # A black-and-white photo is still a face with a true label: suspicious, but never above 2.
        score = 2 - report.colourfulness / t.grayscale_colourfulness
        flags.append(flag("grayscale", score, colourfulness=report.colourfulness))
    return flags


def label_flags(
    labels: ImageLabels,
    estimated_age: float,
    female_probability: float,
    estimator_mae: float,
    thresholds: CurationThresholds,
) -> list[Flag]:
    """Labels that the estimator contradicts: an age far beyond its usual error, or a confident other gender."""
    flags = []
    if labels.age is not None:
        from aging_model.estimator.age_gender import MAX_AGE

        tolerance = thresholds.age_error_multiple * estimator_mae
        error = abs(min(labels.age, MAX_AGE) - estimated_age)  # it reads no one older than MAX_AGE
        if error > tolerance:
            flags.append(
                flag(
                    "age_label_outlier",
                    error / tolerance,
                    label=labels.age,
                    estimate=estimated_age,
                    tolerance=tolerance,
                )
            )
    if labels.gender is not None:
        opposite = female_probability if labels.gender == 0 else 1 - female_probability
        if opposite >= thresholds.gender_confidence:
            score = (opposite - 0.5) / (thresholds.gender_confidence - 0.5)
            flags.append(
                flag("gender_label_disagrees", score, label=labels.gender, female_probability=female_probability)
            )
    return flags
