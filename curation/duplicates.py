"""The dataset-wide pass: the same image more than once, and the same person more than once.

It needs every image at once, so it runs after the per-image pass on features stored by it (a 64-bit
perceptual hash and a 128-d dlib embedding per image): comparing 23k hashes or embeddings pairwise takes
seconds with numpy, in blocks so memory stays small.

- exact_duplicate: the same bytes under several paths (found when importing, by the content hash).
- near_duplicate: perceptual hashes a few bits apart (re-encoded, resized, relit copies).
- same_person: embeddings unusually close *for these two faces*, for pairs that are not near duplicates, among
  faces estimated at `same_person_min_age` or older (dlib's embedder was trained on adults; on 400 UTKFace
  chips it put most pairs of different babies under 0.45). One global distance is unfair: dlib packs some
  groups tighter than others. On 1,250 UTKFace chips (250 per race label) the median distance from an adult
  face to its 10th-nearest face was 0.53 for faces labelled Asian and 0.65 for those labelled White, and
  the old rule (distance < 0.45) flagged 35 % of the Asian faces and 4 % of the White ones, mostly
  strangers. So each face is judged against its own neighbourhood: its scale is the median distance to its
  `same_person_neighbours` (40) nearest faces, and a pair is flagged when its distance is below
  `same_person_ratio` (0.7) times the smaller scale of its two faces, and below dlib's own 0.6. A median
  over 40 lets one person have many photos (one sample held five of one athlete) without their own photos
  shrinking the scale that should find them. On that sample 4.2 % of faces were flagged, no race label
  above 8 %, and nearly every pair checked by eye was one person (docs/curation.md). UTKFace does hold
  some people at several ages; the flag is for the curator to judge (and to keep one person out of both
  the training and the validation split), not a reason to reject on its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from curation.flags import CERTAIN, CurationThresholds, Flag, flag

MAX_LISTED_MATCHES = 20  # per image, in a flag's details
_BLOCK = 64  # rows compared against all others at once (64 x 23k x 256 bits: 47 MB)


@dataclass(frozen=True)
class ImageFeatures:
    """What the dataset-wide pass knows of one image; `key` is how the caller names it (a database id)."""

    key: int
    perceptual_hash: str | None = None
    embedding: np.ndarray | None = None
    estimated_age: float | None = None
    labels: tuple[int | None, int | None] = (None, None)  # (age, gender) of the image itself
    copies: list[dict] = field(default_factory=list)  # other paths holding exactly these bytes, with their labels


def group_flags(
    features: list[ImageFeatures], thresholds: CurationThresholds = CurationThresholds()
) -> dict[int, list[Flag]]:
    """Every image's dataset-wide flags, by key (images without any are absent)."""
    flags: dict[int, list[Flag]] = defaultdict(list)
    for item in features:
        if item.copies:
            flags[item.key].append(exact_duplicate_flag(item.copies, item.labels))
    near = near_duplicate_pairs(features, thresholds.near_duplicate_bits)
    for key, matches in _by_image(near).items():
        bits = min(d for _, d in matches)
        score = 1 + (CERTAIN - 1) * (1 - bits / thresholds.near_duplicate_bits)  # 1.0 at the limit, CERTAIN if equal
        flags[key].append(flag("near_duplicate", score, **_matches(matches, "bits")))
    adults = [f for f in features if f.estimated_age is not None and f.estimated_age >= thresholds.same_person_min_age]
    same = same_person_pairs(
        adults,
        thresholds.same_person_ratio,
        thresholds.same_person_neighbours,
        thresholds.same_person_distance,
        exclude={(a, b) for a, b, _ in near},
    )
    for key, matches in _by_image(same).items():
        ratio = min(r for _, r in matches)
        flags[key].append(
            flag(
                "same_person", thresholds.same_person_ratio / max(ratio, 1e-3), **_matches(matches, "relative_distance")
            )
        )
    return dict(flags)


def exact_duplicate_flag(copies: list[dict], own_labels: tuple[int | None, int | None] = (None, None)) -> Flag:
    """Copies labelled differently from the image (or each other) are the worse case: one label is wrong."""
    labels = {own_labels} | {(c.get("age"), c.get("gender")) for c in copies}
    return flag(
        "exact_duplicate",
        CERTAIN,
        copies=len(copies),
        paths=[c["path"] for c in copies][:MAX_LISTED_MATCHES],
        labels_differ=len(labels) > 1,
    )


def near_duplicate_pairs(features: list[ImageFeatures], max_bits: int) -> list[tuple[int, int, int]]:
    """(key, key, differing bits) for every pair of images whose perceptual hashes differ in at most `max_bits`."""
    hashed = [f for f in features if f.perceptual_hash]
    if len(hashed) < 2:
        return []
    values = np.stack([hash_words(f.perceptual_hash) for f in hashed])
    pairs = []
    for start in range(0, len(values), _BLOCK):
        block = values[start : start + _BLOCK]
        bits = np.bitwise_count(block[:, None, :] ^ values[None, :, :]).sum(axis=2)
        for i, j in zip(*np.nonzero(bits <= max_bits)):
            if start + i < j:
                pairs.append((hashed[start + i].key, hashed[j].key, int(bits[i, j])))
    return pairs


def same_person_pairs(
    features: list[ImageFeatures],
    max_ratio: float,
    neighbours: int,
    max_distance: float,
    exclude: set[tuple[int, int]] = frozenset(),
) -> list[tuple[int, int, float]]:
    """(key, key, relative distance) for pairs closer than `max_ratio` of their faces' neighbourhood scale.

    The relative distance is the pair's embedding distance over the smaller of its two faces'
    `neighbourhood_scales`, so a group that the embedder packs tightly is judged by its own spacing. Pairs at
    `max_distance` or beyond are never the same person, and `exclude`d pairs (near duplicates) are skipped.
    """
    embedded = [f for f in features if f.embedding is not None]
    if len(embedded) < 2:
        return []
    vectors = np.stack([f.embedding for f in embedded]).astype(np.float32)
    scales = neighbourhood_scales(vectors, neighbours, missing=max_distance)
    pairs = []
    for start, distances in _distance_blocks(vectors):
        ratios = distances / np.minimum(scales[start : start + len(distances), None], scales[None, :])
        for i, j in zip(*np.nonzero((ratios < max_ratio) & (distances < max_distance))):
            a, b = embedded[start + i].key, embedded[j].key
            if start + i < j and (a, b) not in exclude and (b, a) not in exclude:
                pairs.append((a, b, float(ratios[i, j])))
    return pairs


def neighbourhood_scales(vectors: np.ndarray, neighbours: int, missing: float) -> np.ndarray:
    """Each vector's typical distance to its closest others: the median over its `neighbours` nearest.

    In a dataset with fewer faces than that, the absent neighbours count as `missing` away, so a handful of
    photos is judged against a typical spacing rather than against each other alone.
    """
    k = max(1, min(neighbours, len(vectors) - 1))
    scales = np.empty(len(vectors), np.float32)
    for start, distances in _distance_blocks(vectors):
        rows = np.arange(len(distances))
        distances[rows, start + rows] = np.inf  # not its own neighbour
        nearest = np.partition(distances, k - 1, axis=1)[:, :k]
        padded = np.hstack([nearest, np.full((len(nearest), neighbours - k), missing, np.float32)])
        scales[start : start + len(distances)] = np.maximum(np.median(padded, axis=1), 1e-6)
    return scales


def _distance_blocks(vectors: np.ndarray):
    """(first row, Euclidean distances of _BLOCK rows to every vector), block after block."""
    squared = (vectors**2).sum(axis=1)
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start : start + _BLOCK]
        yield (
            start,
            np.sqrt(np.maximum(squared[start : start + _BLOCK, None] + squared[None, :] - 2 * block @ vectors.T, 0)),
        )


def hash_words(hex_digits: str) -> np.ndarray:
    """A hex hash as 64-bit words, so numpy can XOR and count bits of hashes of any length."""
    return np.frombuffer(bytes.fromhex(hex_digits.rjust(-(-len(hex_digits) // 16) * 16, "0")), dtype=">u8").astype(
        np.uint64
    )


def _by_image(pairs) -> dict[int, list[tuple[int, float]]]:
    """Each pair seen from both of its images: key -> [(other key, measure)], nearest first."""
    matches: dict[int, list] = defaultdict(list)
    for a, b, measure in pairs:
        matches[a].append((b, measure))
        matches[b].append((a, measure))
    return {key: sorted(found, key=lambda m: m[1]) for key, found in matches.items()}


def _matches(matches: list[tuple[int, float]], measure: str) -> dict:
    listed = matches[:MAX_LISTED_MATCHES]
    return {"matches": len(matches), "images": [k for k, _ in listed], measure: [round(float(d), 4) for _, d in listed]}
