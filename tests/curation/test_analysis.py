"""The per-image pass: each kind of bad image raises its flag, and a clean face raises none."""

import numpy as np
import pytest

from curation.analysis import ImageToAnalyse, analyse_images, face_flags, label_flags
from curation.flags import FACE_FLAGS, IMAGE_FLAGS, CurationThresholds, suspicion
from curation.labels import ImageLabels
from preprocessing.alignment import align_face
from preprocessing.detection import DetectedFace
from preprocessing.quality import ANALYSIS_SIZE, assess_face


@pytest.fixture(scope="module")
def analysed(models, dataset_images):
    """Every test image analysed in one batch, as the worker does, labelled with what the estimator reads."""
    images = [ImageToAnalyse(pixels) for pixels in dataset_images.values()]
    return dict(zip(dataset_images, analyse_images(images, models)))


def _names(analysis) -> set[str]:
    return {f.name for f in analysis.flags}


def test_a_clean_face_raises_no_flag_and_has_its_features(analysed):
    clean = analysed["clean"]
    assert clean.flags == []
    assert clean.embedding.shape == (128,) and len(clean.perceptual_hash) == 64
    assert clean.measures["faces"] == 1 and clean.measures["detection_probability"] > 0.99
    assert 15 < clean.measures["estimated_age"] < 60


@pytest.mark.parametrize(
    "kind",
    [
        "blurred",
        "grayscale",
        "underexposed",
        "overexposed",
        "low_resolution",
        "several_faces",
        "no_face",
        "face_too_small",
        "cut_off",
        "text_overlay",
    ],
)
def test_each_kind_of_bad_image_raises_its_flag(analysed, kind):
    flags = {f.name: f for f in analysed[kind].flags}
    assert kind in flags, f"{kind} not among {sorted(flags)}"
    assert flags[kind].score >= 1.0


@pytest.mark.parametrize("kind", ["grayscale", "several_faces", "face_too_small", "cut_off", "text_overlay"])
def test_a_flag_raised_for_one_reason_does_not_drag_in_unrelated_quality_flags(analysed, kind):
    # Not in this list: darkening also lowers the measured sharpness (contrast falls), and a tiny image is
    # blurred at the size the models see it.
    assert not _names(analysed[kind]) & ({"blurred", "underexposed", "overexposed", "no_face"} - {kind})


def test_an_image_without_a_face_has_no_embedding_and_no_face_measures(analysed):
    blank = analysed["no_face"]
    assert _names(blank) == {"no_face"} and blank.embedding is None and blank.measures["faces"] == 0


def test_scores_sort_worse_images_first(models, chip):
    import cv2

    slightly, badly = (cv2.GaussianBlur(chip, (0, 0), sigma) for sigma in (1.6, 4))
    slight, bad = analyse_images([ImageToAnalyse(slightly), ImageToAnalyse(badly)], models)
    blur = lambda a: next(f.score for f in a.flags if f.name == "blurred")  # noqa: E731
    assert blur(bad) > blur(slight) >= 1.0
    assert suspicion(bad.flags) > suspicion(slight.flags)


def test_labels_far_from_the_estimate_are_flagged_and_close_ones_are_not(models, chip, analysed):
    estimate = analysed["clean"].measures["estimated_age"]
    female = analysed["clean"].measures["female_probability"]
    assert female > 0.9  # the estimator is sure this is a woman
    right = ImageToAnalyse(chip, ImageLabels(age=round(estimate) + 3, gender=1))
    wrong = ImageToAnalyse(chip, ImageLabels(age=2, gender=0))
    right_result, wrong_result = analyse_images([right, wrong], models)
    assert right_result.flags == []
    flags = {f.name: f for f in wrong_result.flags}
    assert set(flags) == {"age_label_outlier", "gender_label_disagrees"}
    assert flags["age_label_outlier"].details["label"] == 2


def test_the_age_tolerance_follows_the_estimators_error():
    thresholds = CurationThresholds(age_error_multiple=3.0)
    labels = ImageLabels(age=50, gender=0)
    assert label_flags(labels, 30.0, 0.1, estimator_mae=5.0, thresholds=thresholds)  # 20 > 15
    assert not label_flags(labels, 30.0, 0.1, estimator_mae=8.0, thresholds=thresholds)  # 20 < 24


def test_a_turned_or_doubtful_face_is_flagged(models, chip):
    [face] = models.detector.detect_batch([chip])[0][:1]
    crop = align_face(chip, face.landmarks, ANALYSIS_SIZE).pixels
    marks = face.landmarks.copy()
    marks[2, 0] += 0.6 * (marks[1, 0] - marks[0, 0])  # the nose far to one side: a profile
    turned = DetectedFace(box=face.box, probability=face.probability, landmarks=marks)
    doubtful = DetectedFace(box=face.box, probability=0.6, landmarks=face.landmarks)
    thresholds = CurationThresholds()
    turned_flags = face_flags(turned, [], assess_face(turned, crop), (200, 200), thresholds)
    doubtful_flags = face_flags(doubtful, [], assess_face(doubtful, crop), (200, 200), thresholds)
    assert [f.name for f in turned_flags] == ["extreme_pose"]
    assert [f.name for f in doubtful_flags] == ["low_detection_probability"]
    assert doubtful_flags[0].score == pytest.approx(4.0)  # (1 - 0.6) / (1 - 0.9)


def test_every_flag_the_pass_raises_is_a_known_name(analysed):
    raised = {f.name for a in analysed.values() for f in a.flags}
    assert raised <= set(FACE_FLAGS + IMAGE_FLAGS)
    assert all(isinstance(f.score, float) and np.isfinite(f.score) for a in analysed.values() for f in a.flags)


def test_a_face_read_younger_than_the_identity_age_is_not_embedded(models, dataset_images):
    # dlib cannot tell young children apart, so their embedding is skipped (it is most of the time per face).
    thresholds = CurationThresholds(same_person_min_age=100.0)  # the astronaut counts as a child here
    (child,) = analyse_images([ImageToAnalyse(dataset_images["clean"])], models, thresholds)
    assert child.embedding is None and child.flags == [] and child.measures["estimated_age"] < 100
