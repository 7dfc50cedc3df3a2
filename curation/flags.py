"""Flags: a named suspicion about one image, with a score to sort by and details to show the curator.

Scores share one scale so images can be sorted across flags: 1.0 is the flag's threshold and larger is
further past it (e.g. blurred at 2.0 is half as sharp as the limit). Flags without a measure of degree
(no face, an exact copy, an unreadable file) score CERTAIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from preprocessing.quality import QualityThresholds

CERTAIN = 5.0
MAX_SCORE = 20.0  # a near-zero measure (sharpness 0.01) must not bury every other flag in the sort

# Known when the file is imported.
IMPORT_FLAGS = ("unreadable", "malformed_name")
# From one image alone (the per-image pass).
FACE_FLAGS = ("no_face", "several_faces", "low_detection_probability", "face_too_small", "cut_off", "extreme_pose")
IMAGE_FLAGS = ("blurred", "grayscale", "overexposed", "underexposed", "low_resolution", "text_overlay")
LABEL_FLAGS = ("age_label_outlier", "gender_label_disagrees")
PER_IMAGE_FLAGS = FACE_FLAGS + IMAGE_FLAGS + LABEL_FLAGS
# From the whole dataset at once (the grouping pass).
GROUP_FLAGS = ("exact_duplicate", "near_duplicate", "same_person")
ALL_FLAGS = IMPORT_FLAGS + PER_IMAGE_FLAGS + GROUP_FLAGS


@dataclass(frozen=True)
class Flag:
    name: str
    score: float
    details: dict = field(default_factory=dict)


def flag(name: str, score: float, **details) -> Flag:
    """A flag with its score bounded to MAX_SCORE and its details rounded for storage as JSON."""
    rounded = {k: round(float(v), 4) if isinstance(v, float) else v for k, v in details.items()}
    return Flag(name=name, score=round(min(float(score), MAX_SCORE), 4), details=rounded)


def past_minimum(value: float, minimum: float) -> float:
    """Score of a measure that must stay above `minimum`: 1.0 at the limit, 2.0 at half of it."""
    return minimum / max(value, 1e-6)


def suspicion(flags: list[Flag]) -> float:
    """One number to sort images by: the strongest flag, plus a little for each further one."""
    if not flags:
        return 0.0
    scores = sorted((f.score for f in flags), reverse=True)
    return round(scores[0] + 0.1 * sum(scores[1:]), 4)


@dataclass(frozen=True)
class CurationThresholds:
    """Every limit that raises a flag. Face and exposure limits are the service's own (`QualityThresholds`),
    so an image the service would refuse to age is one the curator hears about."""

    quality: QualityThresholds = QualityThresholds()
    min_image_side: int = 100  # px; UTKFace chips are 200, the training crops 64-128
    min_face_share: float = 0.3  # the face box's short side relative to the image's: chips are face crops
    second_face_share: float = 0.5  # another confident face at least this size of the main one
    border_margin: float = 0.05  # landmarks closer than this share of the side to the border: cut off (10 px of a chip)
    age_error_multiple: float = 3.0  # |label - estimate| beyond this many estimator MAEs
    gender_confidence: float = 0.9  # the estimator this sure of the opposite gender
    # The out-of-fold check (curation.label_check) scales the age tolerance by each age group's own error:
    min_age_tolerance: float = 5.0  # years; a 3-year-old labelled 5 is not worth a curator's look
    min_gender_accuracy: float = 0.85  # gender is questioned only in age groups read at least this well
    near_duplicate_bits: int = 20  # of the 256-bit perceptual hash (see curation.images.perceptual_hash)
    # same_person (see curation.duplicates): a pair closer than this share of its faces' neighbourhood scale,
    # the median distance to their `same_person_neighbours` nearest faces, and never at dlib's 0.6 or beyond.
    same_person_ratio: float = 0.7
    same_person_neighbours: int = 40
    same_person_distance: float = 0.6
    same_person_min_age: float = 16.0  # estimated; dlib's embeddings cannot tell young children apart
