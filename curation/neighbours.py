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
    rows = _smallest(distances, count)
    return [(int(r), float(distances[r])) for r in rows]


def nearest_by_hash(query: str, hashes: list[str], count: int) -> list[tuple[int, int]]:
    """(index, differing bits) of the `count` perceptual hashes nearest `query`, nearest first."""
    if not hashes or count <= 0:
        return []
    words = _stacked_words(hashes)
    bits = np.bitwise_count(words ^ hash_words(query)[None, :]).sum(axis=1)
    rows = _smallest(bits, count)
    return [(int(r), int(bits[r])) for r in rows]


def _stacked_words(hashes: list[str]) -> np.ndarray:
    """(N, words) uint64 of hashes; one hex decode for the usual case of hashes all of one length (23k: 5 ms)."""
    if len({len(h) for h in hashes}) == 1 and len(hashes[0]) % 16 == 0:
        joined = np.frombuffer(bytes.fromhex("".join(hashes)), dtype=">u8")
        return joined.astype(np.uint64).reshape(len(hashes), -1)
    return np.stack([hash_words(h) for h in hashes])


def _smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` smallest values, smallest first (ties by index), without sorting them all."""
    if count < len(values):
        candidates = np.argpartition(values, count - 1)[:count]
        # Ties at the cut: take every value equal to the largest kept, so the order by index is stable.
        candidates = np.flatnonzero(values <= values[candidates].max())
    else:
        candidates = np.arange(len(values))
    return candidates[np.argsort(values[candidates], kind="stable")][:count]
