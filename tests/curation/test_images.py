"""Content hash, perceptual hash and thumbnail of one image."""

import io

import numpy as np
from PIL import Image

from curation.images import content_sha256, hash_distance, make_thumbnail, perceptual_hash


def test_the_content_hash_tells_exact_copies_only():
    assert content_sha256(b"abc") == content_sha256(b"abc") != content_sha256(b"abd")


def test_the_perceptual_hash_survives_reencoding_resizing_and_relighting(chip, reencode):
    original = perceptual_hash(chip)
    assert len(original) == 64  # 256 bits
    assert hash_distance(original, perceptual_hash(reencode(chip, 120, 50))) <= 10
    assert hash_distance(original, perceptual_hash((chip * 0.5).astype(np.uint8))) <= 10


def test_the_perceptual_hash_tells_another_photo_apart(chip):
    from skimage import data

    other = np.asarray(Image.fromarray(data.coffee()).resize((200, 200)))
    assert hash_distance(perceptual_hash(chip), perceptual_hash(other)) > 60
    assert hash_distance(perceptual_hash(chip), perceptual_hash(chip[:, ::-1].copy())) > 60  # mirrored


def test_a_thumbnail_is_a_small_jpeg_without_metadata(astronaut):
    thumbnail = Image.open(io.BytesIO(make_thumbnail(astronaut)))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == 128
    assert not thumbnail.getexif() and "icc_profile" not in thumbnail.info
