"""One image file as curation sees it: its content hash, its pixels, a perceptual hash and a thumbnail."""

from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
from PIL import Image

from preprocessing.loading import DEFAULT_MAX_SIDE, Photo, load_photo

THUMBNAIL_SIDE = 128
HASH_SIDE = 16  # a 16 x 16 grid: 256 bits (64 bits cannot tell aligned faces apart, see perceptual_hash)


def content_sha256(content: bytes) -> str:
    """The hash of the file's bytes: equal only for exact copies (the dataset's identity of an image)."""
    return hashlib.sha256(content).hexdigest()


def decode_image(content: bytes) -> Photo:
    """RGB pixels of an image file (EXIF orientation applied); raises `PhotoError` with a reason when unusable."""
    return load_photo(content, max_side=DEFAULT_MAX_SIDE)


def perceptual_hash(pixels: np.ndarray) -> str:
    """A 256-bit difference hash (dHash) as 64 hex digits: nearly equal for re-encoded, resized or relit copies.

    The sign of the brightness step between neighbouring cells of a 17 x 16 grey thumbnail survives JPEG
    re-encoding, resizing and exposure changes, but not a different photo. The usual 64-bit (9 x 8) hash is
    too coarse for a dataset of aligned faces: on 2,000 UTKFace chips, 1,209 pairs of different photos came
    within 6 of 64 bits; at 256 bits the closest different photos are 38 bits apart (0.001st percentile)
    while re-encoded or half-darkened copies of one photo stay within 10.
    """
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    cells = cv2.resize(gray, (HASH_SIDE + 1, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (cells[:, 1:] > cells[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{HASH_SIDE * HASH_SIDE // 4}x}"


def hash_distance(a: str, b: str) -> int:
    """The number of differing bits between two perceptual hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def make_thumbnail(pixels: np.ndarray, side: int = THUMBNAIL_SIDE, quality: int = 85) -> bytes:
    """A small JPEG for the review page, encoded from pixels, so no metadata of the original survives."""
    image = Image.fromarray(pixels)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
