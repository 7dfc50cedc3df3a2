"""What the dataset tests share: JPEG bytes, an import, the images and their flags as stored."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from service import dataset
from service.models import DatasetImage

CURATION_TABLES = {"dataset_images", "dataset_flags", "review_decisions"}


def _jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _import(database, folder, table=None):
    return dataset.import_files(database, dataset.dataset_files(folder), table)


def _images(database) -> dict[str, DatasetImage]:
    with database.session() as session:
        images = session.scalars(select(DatasetImage)).all()
        for image in images:
            _ = image.flags  # loaded while the session is open
        return {Path(i.source_path).name: i for i in images}


def _flag_names(image: DatasetImage) -> set[str]:
    return {f.name for f in image.flags}
