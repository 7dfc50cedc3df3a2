"""The dataset-wide pass: exact copies, near copies and the same person twice, and what must not match."""

import numpy as np
import pytest
from PIL import Image

from curation.analysis import ImageToAnalyse, analyse_images
from curation.duplicates import ImageFeatures, exact_duplicate_flag, group_flags
from curation.flags import CERTAIN


@pytest.fixture(scope="module")
def features(models, chip, reencode):
    """The astronaut, a re-encoded smaller copy, a mirrored copy (a different photo of the same person),
    another photo (coffee) and a blank image, as the per-image pass leaves them."""
    from skimage import data

    images = {
        "original": chip,
        "reencoded": reencode(chip, 150, 60),
        "mirrored": np.ascontiguousarray(chip[:, ::-1]),
        "coffee": np.asarray(Image.fromarray(data.coffee()).resize((200, 200))),
        "blank": np.full((200, 200, 3), 128, np.uint8),
    }
    analyses = analyse_images([ImageToAnalyse(p) for p in images.values()], models)
    return {
        name: ImageFeatures(
            key=i,
            perceptual_hash=a.perceptual_hash,
            embedding=a.embedding,
            estimated_age=a.measures.get("estimated_age"),
        )
        for i, (name, a) in enumerate(zip(images, analyses))
    }


def _flags_by_name(features, found):
    keys = {f.key: name for name, f in features.items()}
    return {keys[key]: {f.name: f for f in flags} for key, flags in found.items()}


def test_a_reencoded_copy_is_a_near_duplicate_and_the_mirrored_photo_is_the_same_person(features):
    found = _flags_by_name(features, group_flags(list(features.values())))
    assert set(found["original"]) == {"near_duplicate", "same_person"}
    assert set(found["reencoded"]) == {"near_duplicate", "same_person"}
    assert set(found["mirrored"]) == {"same_person"}
    near = found["original"]["near_duplicate"]
    assert near.details["images"] == [features["reencoded"].key] and near.score > 1.0
    # A near duplicate is not also reported as the same person: the pair is already explained.
    assert found["original"]["same_person"].details["images"] == [features["mirrored"].key]


def test_other_photos_and_faceless_images_match_nothing(features):
    found = _flags_by_name(features, group_flags(list(features.values())))
    assert "coffee" not in found and "blank" not in found


def test_children_are_not_compared_for_identity(features):
    # dlib's embeddings cannot tell young children apart; an estimated child is left out of same_person.
    young = {
        name: ImageFeatures(f.key, f.perceptual_hash, f.embedding, estimated_age=4.0) for name, f in features.items()
    }
    found = _flags_by_name(young, group_flags(list(young.values())))
    assert "same_person" not in found.get("mirrored", {})


def test_exact_copies_with_different_labels_are_the_worse_case():
    same = exact_duplicate_flag([{"path": "/b/30_1_0_1.jpg", "age": 30, "gender": 1}], own_labels=(30, 1))
    differ = exact_duplicate_flag([{"path": "/a/62_1_0_2.jpg", "age": 62, "gender": 1}], own_labels=(30, 1))
    assert same.score == differ.score == CERTAIN
    assert not same.details["labels_differ"] and differ.details["labels_differ"]
    found = group_flags([ImageFeatures(key=7, copies=[{"path": "/b/x.jpg", "age": 3, "gender": 0}])])
    assert [f.name for f in found[7]] == ["exact_duplicate"]


def test_the_pairwise_pass_works_in_blocks_over_many_images():
    rng = np.random.default_rng(0)
    hashes = [f"{int(rng.integers(0, 2**63)):016x}" * 4 for _ in range(300)]
    items = [ImageFeatures(key=i, perceptual_hash=h) for i, h in enumerate(hashes)]
    items.append(ImageFeatures(key=999, perceptual_hash=hashes[250]))  # a copy of one in a later block
    found = group_flags(items)
    assert set(found) == {250, 999}


def _cluster(rng, centre, spread, count):
    """`count` embeddings around `centre`, about `spread` apart from each other (dlib's 128-d scale)."""
    return [centre + rng.normal(0, spread / 16, 128).astype(np.float32) for _ in range(count)]


def _pair_at(rng, face, distance):
    step = rng.normal(0, 1, 128).astype(np.float32)
    return face + distance * step / np.linalg.norm(step)


def _adults(vectors, first_key=0):
    return [ImageFeatures(key=first_key + i, embedding=v, estimated_age=30.0) for i, v in enumerate(vectors)]


def test_same_person_is_judged_against_each_faces_own_neighbourhood_not_one_global_distance():
    # Two groups the embedder spaces differently (strangers 0.45 apart in one, 0.65 in the other), each with
    # a pair of photos 0.38 apart: in the tight group that is how close strangers come; in the loose one it
    # stands out. The old global threshold (0.45) flagged both pairs and most of the tight group.
    rng = np.random.default_rng(0)
    tight = _cluster(rng, np.zeros(128, np.float32), 0.45, 60)
    loose = _cluster(rng, np.full(128, 0.2, np.float32), 0.65, 60)
    tight.append(_pair_at(rng, tight[0], 0.38))
    loose.append(_pair_at(rng, loose[0], 0.38))
    features = _adults(tight) + _adults(loose, first_key=100)
    found = group_flags(features)
    flagged = {key for key, flags in found.items() if any(f.name == "same_person" for f in flags)}
    assert flagged == {100, 160}


def test_a_person_with_many_photos_is_still_found_among_their_own_neighbours():
    rng = np.random.default_rng(1)
    strangers = _cluster(rng, np.zeros(128, np.float32), 0.6, 80)
    person = _cluster(rng, strangers[0], 0.3, 6)  # six photos of one person, 0.3 apart
    found = group_flags(_adults(strangers[1:]) + _adults(person, first_key=1000))
    assert set(found) == set(range(1000, 1006))
    assert all(f.details["matches"] == 5 for key in found for f in found[key])
