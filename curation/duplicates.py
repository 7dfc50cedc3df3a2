"""The dataset-wide pass: the same image more than once, and the same person more than once.

It needs every image at once, so it runs after the per-image pass on features stored by it (a 64-bit
perceptual hash and a 128-d dlib embedding per image): comparing 23k hashes or embeddings pairwise takes
seconds with numpy, in blocks so memory stays small.

- exact_duplicate: the same bytes under several paths (found when importing, by the content hash).
- near_duplicate: perceptual hashes a few bits apart (re-encoded, resized, relit copies).
- same_person: embeddings closer than `same_person_distance`, for pairs that are not near duplicates, among
  faces estimated at `same_person_min_age` or older: dlib's embedder was trained on adults, and on a sample of
  400 UTKFace chips it put most pairs of different babies under 0.45. dlib's
  own 0.6 decides whether *one given pair* is the same person; among the N^2/2 pairs of a whole dataset its
  small false-match rate still adds up to thousands of strangers, so the default here is stricter. UTKFace
  does hold some people at several ages; the flag is for the curator to judge (and to keep one person out
  of both the training and the validation split), not a reason to reject on its own.
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
    same = same_person_pairs(adults, thresholds.same_person_distance, exclude={(a, b) for a, b, _ in near})
    for key, matches in _by_image(same).items():
        distance = min(d for _, d in matches)
        flags[key].append(
            flag("same_person", thresholds.same_person_distance / max(distance, 1e-3), **_matches(matches, "distance"))
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
    values = np.stack([_hash_words(f.perceptual_hash) for f in hashed])
    pairs = []
    for start in range(0, len(values), _BLOCK):
        block = values[start : start + _BLOCK]
        bits = np.bitwise_count(block[:, None, :] ^ values[None, :, :]).sum(axis=2)
        for i, j in zip(*np.nonzero(bits <= max_bits)):
            if start + i < j:
                pairs.append((hashed[start + i].key, hashed[j].key, int(bits[i, j])))
    return pairs


def same_person_pairs(
    features: list[ImageFeatures], max_distance: float, exclude: set[tuple[int, int]] = frozenset()
) -> list[tuple[int, int, float]]:
    """(key, key, embedding distance) for every pair closer than `max_distance`, except the `exclude`d pairs."""
    embedded = [f for f in features if f.embedding is not None]
    if len(embedded) < 2:
        return []
    vectors = np.stack([f.embedding for f in embedded]).astype(np.float32)
    squared = (vectors**2).sum(axis=1)
    pairs = []
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start : start + _BLOCK]
        distances = np.sqrt(
            np.maximum(squared[start : start + _BLOCK, None] + squared[None, :] - 2 * block @ vectors.T, 0)
        )
        for i, j in zip(*np.nonzero(distances < max_distance)):
            a, b = embedded[start + i].key, embedded[j].key
            if start + i < j and (a, b) not in exclude and (b, a) not in exclude:
                pairs.append((a, b, float(distances[i, j])))
    return pairs


def _hash_words(hex_digits: str) -> np.ndarray:
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
