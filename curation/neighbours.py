"""More like this: a face's nearest faces by identity (dlib embedding) and by appearance (perceptual hash).

A run of copies of one photo, or of one person, often shares one wrong label; shown side by side with their
labels, the curator fixes them together. Identity finds other photos of the person; appearance finds re-encoded,
cropped or relit copies of the same photo (and lookalike framings), whoever is in them. Both read features the
per-image pass already stored, so a query over 23k faces is one vectorised pass.
"""

from __future__ import annotations

import numpy as np

from curation.duplicates import hash_words


def nearest_by_embedding(query: np.ndarray, vectors: np.ndarray, count: int) -> list[tuple[int, float]]:
    """(row, Euclidean distance) of the `count` rows of `vectors` (N, 128) nearest `query`, nearest first."""
    if len(vectors) == 0 or count <= 0:
        return []
    distances = np.linalg.norm(vectors.astype(np.float32) - query.astype(np.float32), axis=1)
    rows = np.argsort(distances, kind="stable")[:count]
    return [(int(r), float(distances[r])) for r in rows]


def nearest_by_hash(query: str, hashes: list[str], count: int) -> list[tuple[int, int]]:
    """(index, differing bits) of the `count` perceptual hashes nearest `query`, nearest first."""
    if not hashes or count <= 0:
        return []
    words = np.stack([hash_words(h) for h in hashes])
    bits = np.bitwise_count(words ^ hash_words(query)[None, :]).sum(axis=1)
    rows = np.argsort(bits, kind="stable")[:count]
    return [(int(r), int(bits[r])) for r in rows]
