"""More like this, for the review page: the images nearest one image by identity and by appearance."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from curation.neighbours import nearest_by_embedding, nearest_by_hash
from service.database import Database
from service.dataset.decisions import ImageNotFound, review_view
from service.models import DatasetImage

SIMILAR_COUNT = 8


def similar_images(db: Database, image_id: int, count: int = SIMILAR_COUNT) -> dict:
    """`{"identity": [...], "appearance": [...]}`: the `count` other images nearest by embedding distance
    (`distance`) and by perceptual-hash bits (`bits`), each as `review_view` shows it, with its labels.
    A list is empty when the image has no such feature (not analysed, no face, a young child)."""
    with db.session() as session:
        rows = session.execute(select(DatasetImage.id, DatasetImage.embedding, DatasetImage.perceptual_hash)).all()
        own = next((row for row in rows if row.id == image_id), None)
        if own is None:
            raise ImageNotFound(f"no dataset image {image_id}")
        others = [row for row in rows if row.id != image_id]
        identity = []
        if own.embedding is not None:
            embedded = [row for row in others if row.embedding is not None]
            vectors = np.stack([np.frombuffer(r.embedding, np.float32) for r in embedded]) if embedded else np.empty(0)
            query = np.frombuffer(own.embedding, np.float32)
            identity = [
                (embedded[i].id, {"distance": round(d, 4)}) for i, d in nearest_by_embedding(query, vectors, count)
            ]
        appearance = []
        if own.perceptual_hash:
            hashed = [row for row in others if row.perceptual_hash]
            found = nearest_by_hash(own.perceptual_hash, [r.perceptual_hash for r in hashed], count)
            appearance = [(hashed[i].id, {"bits": bits}) for i, bits in found]
        ids = {i for i, _ in identity + appearance}
        query = select(DatasetImage).where(DatasetImage.id.in_(ids)).options(selectinload(DatasetImage.flags))
        images = {image.id: image for image in session.scalars(query)}
        return {
            kind: [{**review_view(images[i]), **measure} for i, measure in found]
            for kind, found in (("identity", identity), ("appearance", appearance))
        }
