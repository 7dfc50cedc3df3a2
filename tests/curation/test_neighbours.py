"""More like this: the nearest faces by embedding distance and by perceptual-hash bits, nearest first."""

import numpy as np

from curation.neighbours import nearest_by_embedding, nearest_by_hash


def test_the_nearest_embeddings_come_first_with_their_distances():
    rng = np.random.default_rng(0)
    vectors = rng.normal(0, 1, (500, 128)).astype(np.float32)
    query = vectors[42] + 0.01
    found = nearest_by_embedding(query, vectors, 3)
    assert found[0][0] == 42 and found[0][1] < 0.2
    exact = np.linalg.norm(vectors - query, axis=1)
    assert [row for row, _ in found] == list(np.argsort(exact)[:3])
    assert nearest_by_embedding(query, vectors[:2], 5) == sorted(
        nearest_by_embedding(query, vectors[:2], 5), key=lambda f: f[1]
    )
    assert nearest_by_embedding(query, np.empty((0, 128), np.float32), 3) == []


def test_the_nearest_hashes_come_first_by_differing_bits_and_ties_keep_their_order():
    query = "0" * 64
    hashes = ["f" * 64, "0" * 63 + "1", "0" * 63 + "3", "1" + "0" * 63, "0" * 64]
    assert nearest_by_hash(query, hashes, 3) == [(4, 0), (1, 1), (3, 1)]
    assert nearest_by_hash(query, hashes, 10)[-1] == (0, 256)
    assert nearest_by_hash(query, [], 3) == []
