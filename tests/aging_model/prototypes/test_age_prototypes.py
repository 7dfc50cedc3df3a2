"""Age prototypes: built from aligned faces with landmarks, race-balanced per cell, saved and loaded; and the
shipped prototypes measured on UTKFace hold what age does to skin."""

import numpy as np
import pytest

from aging_model.age_groups import GROUP_CENTRES, N_AGE_GROUPS
from aging_model.prototypes.age_prototypes import (
    DEFAULT_PROTOTYPES_PATH,
    ENERGY_SIZE,
    N_GENDERS,
    TEXTURE_SIZE,
    AgePrototypes,
    PrototypeSample,
    build_prototypes,
    detail_bands,
    local_energy,
)

CELLS = [(g, s) for g in range(N_AGE_GROUPS) for s in range(N_GENDERS)]


def _variant(crop, marks, index: int):
    """The face shifted by a few pixels (landmarks along) and brightened or darkened: a different photo of
    the same face, still chip-framed."""
    dx, dy = (index % 3) - 1, (index % 5) - 2
    shifted = np.roll(crop, (dy, dx), axis=(0, 1)).astype(np.float32) * (0.85 + 0.03 * (index % 10))
    return np.clip(shifted, 0, 255).astype(np.uint8), marks + np.array([dx, dy], np.float32)


@pytest.fixture(scope="module")
def face_samples(face) -> list[PrototypeSample]:
    crop, marks = face
    samples = []
    for index, (group, gender) in enumerate(CELLS):
        varied, moved = _variant(crop, marks, index)
        samples.append(PrototypeSample(varied, moved, group, gender, race=index % 2))
    # a second face in the first cell, at a smaller size: crops need not be TEXTURE_SIZE
    small = np.ascontiguousarray(crop[::2, ::2])
    samples.append(PrototypeSample(small, marks / 2, 0, 0, race=0))
    return samples


@pytest.fixture(scope="module")
def built(face_samples) -> AgePrototypes:
    return build_prototypes(face_samples)


@pytest.fixture(scope="module")
def shipped() -> AgePrototypes:
    return AgePrototypes.load()


def test_prototypes_have_one_shape_texture_and_detail_energy_per_age_group_and_gender(built):
    assert built.shapes.shape == (N_AGE_GROUPS, N_GENDERS, 68, 2) and built.shapes.dtype == np.float32
    assert built.textures.shape == (N_AGE_GROUPS, N_GENDERS, TEXTURE_SIZE, TEXTURE_SIZE, 3)
    assert built.textures.dtype == np.uint8
    assert built.detail_energy.shape == (N_AGE_GROUPS, N_GENDERS, 2, ENERGY_SIZE, ENERGY_SIZE)
    assert built.reference_shape.shape == (68, 2)
    assert built.counts.shape == (N_AGE_GROUPS, N_GENDERS)
    expected_counts = np.ones((N_AGE_GROUPS, N_GENDERS), int)
    expected_counts[0, 0] = 2
    assert np.array_equal(built.counts, expected_counts)
    # shapes are in units of the side, so the half-size crop lands on the same shape as the full one
    assert (built.shapes > -0.1).all() and (built.shapes < 1.1).all()


def test_each_mean_face_is_the_face_warped_to_the_reference_shape(built, face):
    """One astronaut per cell: the cell's texture is her face, brightened as in that cell, with her eyes
    moved onto the reference shape's eyes (the mean over cells of her slightly shifted landmarks)."""
    crop, marks = face
    reference = built.reference_shape * TEXTURE_SIZE
    assert np.abs(reference - marks).max() < 3  # the shifts were a pixel or two either way
    texture = built.textures[5, 1].astype(np.float32)
    assert 50 < texture.mean() < 220 and texture.std() > 20  # a face, not a blank
    # Its brightness differs from the original by the variant's factor (index 11: 0.88), roughly.
    ratio = texture.mean() / crop.astype(np.float32).mean()
    assert 0.8 < ratio < 0.95
    # Fine and medium detail survive the averaging of a single face: the energy is not zero on the face.
    assert (built.detail_energy[5, 1].astype(np.float32).mean(axis=(1, 2)) > 0.5).all()


def test_the_mean_faces_have_their_features_on_the_reference_shape(face, landmarker):
    """Faces shifted 6 px left in the male cells and 6 px right in the female ones are each warped onto the
    reference shape (halfway): dlib, run on any cell's mean face, finds the features where the reference is."""
    crop, marks = face
    samples = []
    for group, gender in CELLS:
        dx = 6 if gender else -6
        samples.append(PrototypeSample(np.roll(crop, dx, axis=1), marks + np.float32([dx, 0]), group, gender))
    prototypes = build_prototypes(samples)
    reference = prototypes.reference_shape * TEXTURE_SIZE
    assert np.abs(reference - marks).max() < 0.5  # the shifts cancel
    for cell in [(0, 0), (0, 1)]:
        found = landmarker.landmarks(prototypes.textures[cell])
        error = np.linalg.norm(found[17:] - reference[17:], axis=1)  # inner features: the jaw is extrapolated
        assert error.mean() < 1.2 and error.max() < 3, (cell, error.mean(), error.max())


def test_a_missing_cell_is_refused_with_its_name(face_samples):
    without = [s for s in face_samples if (s.group, s.gender) != (3, 1)]
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        build_prototypes(without)
    with pytest.raises(ValueError, match="no samples"):
        build_prototypes([])


def test_saved_prototypes_load_back_equal(built, tmp_path):
    path = tmp_path / "nested" / "prototypes.safetensors"
    built.save(path, card={"faces": int(built.counts.sum())})
    loaded = AgePrototypes.load(path)
    for name in ("shapes", "textures", "detail_energy", "reference_shape", "counts"):
        assert np.array_equal(getattr(loaded, name), getattr(built, name)), name
    assert loaded.textures.dtype == np.uint8 and loaded.detail_energy.dtype == np.float16


def test_loading_from_a_missing_file_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="prototypes build"):
        AgePrototypes.load(tmp_path / "absent.safetensors")


def test_every_race_in_a_cell_weighs_the_same(face):
    """In the (4, 0) cell, three faces of race 0 and one of race 1: the mean is halfway between the two races'
    means (not three quarters of the way to race 0, as a plain average would be), in colour and in shape."""
    _, marks = face
    flat = lambda colour: np.full((TEXTURE_SIZE, TEXTURE_SIZE, 3), colour, np.uint8)  # noqa: E731
    samples = [PrototypeSample(flat((128, 128, 128)), marks, g, s, race=0) for g, s in CELLS if (g, s) != (4, 0)]
    race0 = [(40, 100, 20), (60, 110, 30), (80, 120, 40)]
    samples += [PrototypeSample(flat(colour), marks, 4, 0, race=0) for colour in race0]
    samples.append(PrototypeSample(flat((200, 60, 180)), marks + np.float32([8, 0]), 4, 0, race=1))
    prototypes = build_prototypes(samples)
    expected = (np.mean(race0, axis=0) + np.array([200, 60, 180])) / 2  # (130, 85, 105); a plain mean: (95, 97.5, 67.5)
    cell = prototypes.textures[4, 0].reshape(-1, 3).astype(np.float32)
    assert np.abs(cell.mean(axis=0) - expected).max() <= 1
    assert np.abs(cell - expected).max() <= 1  # flat faces stay flat through the warp
    shift = (prototypes.shapes[4, 0] - prototypes.shapes[0, 0]) * TEXTURE_SIZE
    assert np.allclose(shift, [4, 0], atol=0.01)  # race 1 moved 8 px, race 0 did not: halfway
    assert prototypes.counts[4, 0] == 4
    assert np.abs(prototypes.detail_energy[4, 0].astype(np.float32)).max() < 0.5  # flat colour: no detail


def test_weights_make_up_one_age_and_gender():
    prototypes = AgePrototypes.load()
    for age, female in [(3, 0.0), (34, 1.0), (47.2, 0.3), (90, 0.5), (0, 1.0)]:
        weights = prototypes.weights(age, female)
        assert weights.shape == (N_AGE_GROUPS, N_GENDERS)
        assert np.isclose(weights.sum(), 1.0) and (weights >= 0).all()
        assert np.isclose(weights[:, 1].sum(), female)
    at_centre = prototypes.weights(GROUP_CENTRES[6], 1.0)
    expected = np.zeros((N_AGE_GROUPS, N_GENDERS))
    expected[6, 1] = 1.0
    assert np.allclose(at_centre, expected)
    between = prototypes.weights((GROUP_CENTRES[2] + GROUP_CENTRES[3]) / 2, 0.0)
    assert np.isclose(between[2, 0], 0.5) and np.isclose(between[3, 0], 0.5)
    assert np.isclose(prototypes.weights(50, 1.7).sum(), 1.0)  # genders beyond 0..1 are clipped


def test_detail_bands_sum_back_to_the_image(face):
    crop, _ = face
    image = crop.astype(np.float32)
    for scale in (1.0, 0.5, 2.0):
        coarse, medium, fine = detail_bands(image, scale)
        assert coarse.shape == medium.shape == fine.shape == image.shape
        assert np.allclose(coarse + medium + fine, image, atol=1e-3)
    # The bands are what their names say: the fine band carries little of the colour, the coarse most.
    coarse, medium, fine = detail_bands(image)
    assert np.abs(fine).mean() < np.abs(medium).mean() < np.abs(coarse - coarse.mean()).mean()


def test_local_energy_is_zero_on_a_flat_band_and_the_mean_square_on_noise():
    assert np.abs(local_energy(np.zeros((64, 64, 3), np.float32))).max() == 0
    noise = np.random.default_rng(0).normal(0, 3, (128, 128)).astype(np.float32)
    energy = local_energy(noise)
    assert energy.shape == (128, 128)
    assert abs(energy[32:96, 32:96].mean() - 9) < 1


def test_the_shipped_prototypes_load_with_many_faces_in_every_cell(shipped):
    assert DEFAULT_PROTOTYPES_PATH.exists()
    assert shipped.textures.shape == (N_AGE_GROUPS, N_GENDERS, TEXTURE_SIZE, TEXTURE_SIZE, 3)
    assert shipped.detail_energy.shape == (N_AGE_GROUPS, N_GENDERS, 2, ENERGY_SIZE, ENERGY_SIZE)
    assert (shipped.counts > 100).all()
    assert np.isfinite(shipped.detail_energy.astype(np.float32)).all() and (shipped.detail_energy >= 0).all()
    # the reference shape is a face in chip framing: eyes above the nose tip above the mouth, inside the crop
    reference = shipped.reference_shape
    assert (reference[17:] > 0).all() and (reference[17:] < 1).all()
    assert reference[36:48, 1].max() < reference[30, 1] < reference[48:68, 1].min()


def test_the_shipped_prototypes_show_older_cheeks_with_more_medium_detail(shipped):
    """Measured on UTKFace: the 71+ faces' cheeks carry about twice the medium-band (wrinkle-scale) energy of
    the 0-5 faces' cheeks, for both genders and both cheeks."""
    reference = shipped.reference_shape * ENERGY_SIZE
    cheeks = [reference[[1, 2, 3, 31, 48]].mean(axis=0), reference[[13, 14, 15, 35, 54]].mean(axis=0)]
    medium = shipped.detail_energy[:, :, 1].astype(np.float32)
    for x, y in (c.astype(int) for c in cheeks):
        patch = medium[:, :, y - 6 : y + 6, x - 6 : x + 6].mean(axis=(2, 3))  # (10, 2)
        assert (patch[9] > 1.5 * patch[0]).all(), patch
        assert (patch[9] > patch[4]).all()  # and more than young adults' (21-30)
    assert (medium[9].mean(axis=(1, 2)) > medium[0].mean(axis=(1, 2))).all()  # over the whole face too


def test_prototypes_build_from_a_utkface_folder_with_every_cell_filled(utkface_dir, tmp_path):
    from aging_model.prototypes.age_prototypes import training_samples

    samples, skipped = training_samples(utkface_dir, tmp_path / "cache", per_race=1)
    built = build_prototypes(samples)
    assert (built.counts >= 1).all() and built.counts.sum() == len(samples)
    assert {s.race for s in samples} >= {0, 1, 2, 3}  # each race is sampled in its own right
    assert set(skipped) == {"no_landmarks", "unreadable"}
