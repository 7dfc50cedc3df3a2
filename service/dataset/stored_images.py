"""A stored image read back: its labels with the curator's corrections, and its pixels from its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation.images import content_sha256, decode_image
from curation.labels import ImageLabels
from preprocessing.errors import PhotoError
from service.models import DatasetImage


def read_pixels(image: DatasetImage) -> tuple[np.ndarray | None, str | None]:
    """The image's pixels from its file, or (None, why not): the file is gone, changed since it was imported,
    or cannot be decoded."""
    try:
        content = Path(image.source_path).read_bytes()
    except OSError as error:
        return None, f"cannot read {image.source_path}: {error.strerror or error}"
    if content_sha256(content) != image.sha256:
        return None, f"{image.source_path} changed since it was imported; import it again"
    try:
        return decode_image(content).pixels, None
    except PhotoError as error:
        return None, error.message


def effective_labels(image: DatasetImage) -> ImageLabels:
    """The curator's corrections where there are any, else the imported labels."""
    age = image.corrected_age if image.corrected_age is not None else image.age
    gender = image.corrected_gender if image.corrected_gender is not None else image.gender
    return ImageLabels(age=age, gender=gender, race=image.race, source=image.label_source)
