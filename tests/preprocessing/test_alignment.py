"""Alignment to the UTKFace chip framing: the transform, the crop, and the template checked on the data."""

import cv2
import numpy as np
import pytest
from PIL import Image

from preprocessing.alignment import (
    CHIP_TEMPLATE,
    TEMPLATE_CHIP_SIZE,
    align_face,
    derive_template,
    realignment_error,
    similarity_transform,
    template_for,
    transform_points,
)


def test_a_known_similarity_transform_is_recovered():
    angle, scale, shift = np.radians(20), 1.7, np.array([30.0, -12.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = CHIP_TEMPLATE
    moved = points @ rotation.T + shift
    matrix = similarity_transform(points, moved)
    assert np.allclose(matrix[:, :2], rotation) and np.allclose(matrix[:, 2], shift)
    assert np.allclose(transform_points(matrix, points), moved)


def test_degenerate_landmarks_are_refused():
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform(np.ones((5, 2)), CHIP_TEMPLATE)


def test_an_aligned_face_has_its_landmarks_on_the_template(detector, astronaut):
    [face] = detector.detect(astronaut)
    aligned = align_face(astronaut, face.landmarks, 200)
    assert aligned.pixels.shape == (200, 200, 3)
    assert (
        np.abs(transform_points(aligned.matrix, face.landmarks) - CHIP_TEMPLATE).max() < 10
    )  # one face's proportions differ from the median face
    # Detected again on the crop (with a margin: MTCNN misjudges faces that touch the image's edges), the
    # landmarks sit where the template says: the crop is chip-framed.
    padded = cv2.copyMakeBorder(aligned.pixels, 50, 50, 50, 50, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    [again] = detector.detect(padded)
    assert np.linalg.norm(again.landmarks - 50 - CHIP_TEMPLATE, axis=1).mean() < 7


def test_a_rotated_photo_aligns_to_the_same_upright_crop(detector, astronaut):
    [face] = detector.detect(astronaut)
    upright = align_face(astronaut, face.landmarks, 64).pixels.astype(int)
    turn = cv2.getRotationMatrix2D((256, 256), 25, 1.0)
    rotated = cv2.warpAffine(astronaut, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    [tilted] = detector.detect(rotated)
    assert np.abs(align_face(rotated, tilted.landmarks, 64).pixels.astype(int) - upright).mean() < 12


def test_a_large_face_is_reduced_without_aliasing(astronaut, detector):
    [face] = detector.detect(astronaut)
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    from_big = align_face(big, face.landmarks * 4, 64).pixels.astype(int)
    from_small = align_face(astronaut, face.landmarks, 64).pixels.astype(int)
    assert np.abs(from_big - from_small).mean() < 6


def test_the_template_scales_with_the_crop():
    assert np.allclose(template_for(TEMPLATE_CHIP_SIZE), CHIP_TEMPLATE)
    assert np.allclose(template_for(64), CHIP_TEMPLATE * 0.32)


def test_the_template_holds_on_utkface_chips(utkface_dir, detector):
    """Dataset scale: landmarks on 400 real chips agree with the shipped template, and re-aligning a chip
    reproduces its framing (the numbers in preprocessing/alignment.py come from all 23,120 chips)."""
    paths = sorted(utkface_dir.glob("*.jpg"))[::50][:400]
    chips = [np.asarray(Image.open(p).convert("RGB").resize((TEMPLATE_CHIP_SIZE, TEMPLATE_CHIP_SIZE))) for p in paths]
    landmarks = []
    for start in range(0, len(chips), 50):
        for faces in detector.detect_batch(chips[start : start + 50]):
            best = max(faces, key=lambda f: f.probability) if faces else None
            landmarks.append(best.landmarks if best else np.full((5, 2), np.nan))
    landmarks = np.array(landmarks)
    found = ~np.isnan(landmarks).any(axis=(1, 2))
    assert found.mean() > 0.97
    assert np.abs(derive_template(landmarks) - CHIP_TEMPLATE).max() < 3
    errors = realignment_error(landmarks)
    assert errors.mean() < 7 and np.median(errors) < 7
