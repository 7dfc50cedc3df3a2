"""More like this, for the review page: the images nearest one image by identity and by appearance.

The features of every image (23k embeddings and hashes: 3 MB) are read once and kept per database until an image
is added or analysed again, so a step of the review page with "more like this" open costs a few milliseconds of
numpy rather than a read of the whole table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from curation.neighbours import nearest_by_embedding, nearest_by_hash
from service.database import Database
from service.dataset.decisions import ImageNotFound, review_view
from service.models import DatasetImage

SIMILAR_COUNT = 8


@dataclass(frozen=True)
class _StoredFeatures:
    version: tuple
    embedded_ids: np.ndarray  # (N,) image ids of the rows of `vectors`
    vectors: np.ndarray  # (N, 128) float32
    hashed_ids: np.ndarray  # (M,) image ids of `hashes`
    hashes: list[str]


_cache: dict[str, _StoredFeatures] = {}
_cache_lock = threading.Lock()


def similar_images(db: Database, image_id: int, count: int = SIMILAR_COUNT) -> dict:
    """`{"identity": [...], "appearance": [...]}`: the `count` other images nearest by embedding distance
    (`distance`) and by perceptual-hash bits (`bits`), each as `review_view` shows it, with its labels.
    A list is empty when the image has no such feature (not analysed, no face, a young child)."""
    with db.session() as session:
        own = session.execute(
            select(DatasetImage.embedding, DatasetImage.perceptual_hash).where(DatasetImage.id == image_id)
        ).first()
        if own is None:
            raise ImageNotFound(f"no dataset image {image_id}")
        stored = _features(db, session)
        identity = []
        if own.embedding is not None:
            query = np.frombuffer(own.embedding, np.float32)
            found = nearest_by_embedding(query, stored.vectors, count + 1)
            identity = [(int(stored.embedded_ids[i]), {"distance": round(d, 4)}) for i, d in found]
        appearance = []
        if own.perceptual_hash:
            found = nearest_by_hash(own.perceptual_hash, stored.hashes, count + 1)
            appearance = [(int(stored.hashed_ids[i]), {"bits": bits}) for i, bits in found]
        identity = [m for m in identity if m[0] != image_id][:count]
        appearance = [m for m in appearance if m[0] != image_id][:count]
        ids = {i for i, _ in identity + appearance}
        query = select(DatasetImage).where(DatasetImage.id.in_(ids)).options(selectinload(DatasetImage.flags))
        images = {image.id: image for image in session.scalars(query)}
        return {
            kind: [{**review_view(images[i]), **measure} for i, measure in found if i in images]
            for kind, found in (("identity", identity), ("appearance", appearance))
        }


def _features(db: Database, session: Session) -> _StoredFeatures:
    """Every image's embedding and hash, read again only when an image was added or (re)analysed since."""
    version = tuple(
        session.execute(
            select(func.count(DatasetImage.id), func.max(DatasetImage.id), func.max(DatasetImage.analysed_at))
        ).one()
    )
    with _cache_lock:
        cached = _cache.get(db.url)
        if cached is not None and cached.version == version:
            return cached
    rows = session.execute(select(DatasetImage.id, DatasetImage.embedding, DatasetImage.perceptual_hash)).all()
    embedded = [row for row in rows if row.embedding is not None]
    hashed = [row for row in rows if row.perceptual_hash]
    stored = _StoredFeatures(
        version,
        np.array([r.id for r in embedded], np.int64),
        np.frombuffer(b"".join(r.embedding for r in embedded), np.float32).reshape(len(embedded), -1),
        np.array([r.id for r in hashed], np.int64),
        [r.perceptual_hash for r in hashed],
    )
    with _cache_lock:
        _cache[db.url] = stored
    return stored
