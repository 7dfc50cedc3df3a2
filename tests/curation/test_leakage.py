"""Leakage between splits: one person on both sides of the fixed split is found, and the fix moves them to training."""

import numpy as np

from aging_model.data import LabelledFace, is_validation, split_faces
from curation.duplicates import ImageFeatures
from curation.leakage import held_out_with_twin, split_twins, write_train_overrides


def _strangers_and_twins(count: int = 60, seed: int = 0):
    """`count` strangers about 0.62 apart (dlib's typical spacing), then a second photo of stranger 0 and of
    stranger 1 (0.1 from the first); names starting with `val_` are held out."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0, 0.62 / np.sqrt(2 * 128), (count, 128)).astype(np.float32)
    twins = vectors[:2] + rng.normal(0, 0.1 / np.sqrt(128), (2, 128)).astype(np.float32)
    names = {i: f"train_{i}.jpg" for i in range(count)}
    names[0] = "val_0.jpg"
    names[count], names[count + 1] = "train_twin_of_0.jpg", "train_twin_of_1.jpg"
    features = [
        ImageFeatures(key=i, embedding=v, estimated_age=30.0) for i, v in enumerate(np.vstack([vectors, twins]))
    ]
    return features, names


def test_a_person_on_both_sides_of_the_split_is_listed_and_one_on_one_side_is_not():
    features, names = _strangers_and_twins()
    twins = split_twins(features, names, lambda name: name.startswith("val_"))
    assert [(t.validation_name, t.train_name) for t in twins] == [("val_0.jpg", "train_twin_of_0.jpg")]
    assert twins[0].relative_distance < 0.7
    assert held_out_with_twin(twins) == {"val_0.jpg"}


def test_children_and_faces_without_an_embedding_are_never_called_twins():
    features, names = _strangers_and_twins()
    features[0] = ImageFeatures(key=0, embedding=features[0].embedding, estimated_age=8.0)
    assert split_twins(features, names, lambda name: name.startswith("val_")) == []


def test_the_fix_keeps_listed_held_out_faces_in_training_and_adds_to_an_earlier_list(tmp_path):
    faces = [
        LabelledFace(path=tmp_path / f"{age}_0_0_{i}.jpg", age=age, gender=0, race=0)
        for i, age in enumerate(range(20, 80))
    ]
    held_out = {f.path.name for f in faces if is_validation(f.path.name, 20, frozenset())}
    assert held_out, "a 20 % split of 60 names holds some out"
    overrides = tmp_path / "overrides.txt"
    write_train_overrides(overrides, {"someone_else.jpg"})
    assert write_train_overrides(overrides, held_out) == len(held_out) + 1
    train, validation = split_faces(faces, 20, frozenset(overrides.read_text().split()))
    assert validation == [] and len(train) == len(faces)
    assert not is_validation(sorted(held_out)[0], 20, frozenset(overrides.read_text().split()))


def test_twins_are_exactly_the_same_person_pairs_that_cross_the_split():
    from curation.duplicates import same_person_pairs
    from curation.flags import CurationThresholds

    features, names = _strangers_and_twins(count=80, seed=3)
    on_validation = lambda name: name.startswith("val_") or name.endswith("twin_of_1.jpg")  # noqa: E731
    t = CurationThresholds()
    pairs = same_person_pairs(features, t.same_person_ratio, t.same_person_neighbours, t.same_person_distance)
    crossing = {
        frozenset((names[a], names[b])) for a, b, _ in pairs if on_validation(names[a]) != on_validation(names[b])
    }
    twins = split_twins(features, names, on_validation)
    assert {frozenset((tw.validation_name, tw.train_name)) for tw in twins} == crossing
    assert len(crossing) == 2
