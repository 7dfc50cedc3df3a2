"""A child's features for a face made young, on the astronaut (about 34, female) aligned at 256 px: aimed at a
child's age her face between its fine detail and its shading takes the child prototype's, her eyes, mouth and
glasses' frames keep their own, and nothing of it reaches an adult's target."""

import cv2
import numpy as np

from aging_model.prototypes import aging as prototype_aging
from aging_model.prototypes import child_features
from aging_model.prototypes.age_prototypes import TEXTURE_SIZE
from aging_model.prototypes.aging import PrototypeAger
from aging_model.prototypes.child_features import face_mask, features_band, features_pull, mouth_mask
from aging_model.prototypes.face_regions import eyes_mask
from preprocessing.warping import warp_points

OWN_AGE, FEMALE = 34.0, 1.0
_LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)


def _band(image: np.ndarray) -> np.ndarray:
    return features_band(image.astype(np.float32), image.shape[0] / TEXTURE_SIZE) @ _LUMINANCE


def _child_band(ager: PrototypeAger, marks: np.ndarray, size: int) -> np.ndarray:
    """The band of the 0-5 girls' prototype, warped onto her landmarks."""
    prototypes = ager.prototypes
    texture = cv2.resize(prototypes.textures[0, 1], (size, size), interpolation=cv2.INTER_AREA)
    return _band(warp_points(texture, prototypes.reference_shape * size, marks, border_margin=0.25))


def _correlation(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(np.corrcoef(a[where], b[where])[0, 1])


def test_the_features_are_drawn_only_at_a_childs_target():
    assert features_pull(0.65, 3.0) > 0.6
    assert features_pull(0.55, 8.0) > 0.5
    assert 0.0 < features_pull(0.2, 18.0) < features_pull(0.2, 13.0)
    assert features_pull(0.7, 20.0) == 0.0 and features_pull(0.7, 40.0) == 0.0
    assert features_pull(1.0, 3.0) == 1.0


def test_the_face_mask_covers_the_features_and_leaves_the_outline_and_what_lies_beyond_it(face):
    crop, marks = face
    mask = face_mask(marks, crop.shape[0])
    at = lambda point: float(mask[min(int(point[1]), len(mask) - 1), min(int(point[0]), len(mask) - 1)])  # noqa: E731
    assert at(marks[30]) > 0.99 and at(marks[62]) > 0.99 and at(marks[27]) > 0.99  # nose tip, mouth, bridge
    assert np.mean([at(point) for point in marks[0:17]]) < 0.5  # the jaw line is feathered out
    lower_jaw = marks[4:13]
    beyond_jaw = lower_jaw + 10 * (lower_jaw - marks[30]) / np.linalg.norm(lower_jaw - marks[30], axis=1)[:, None]
    inside = [point for point in beyond_jaw if point.min() >= 0 and point.max() < len(mask)]
    assert len(inside) >= 3 and max(at(point) for point in inside) < 0.01  # the neck below the jaw


def test_made_a_child_her_features_take_the_child_prototypes_and_her_eyes_and_mouth_keep_their_own(
    still_ager, face, monkeypatch
):
    crop, marks = face
    size = crop.shape[0]
    own_parts = np.zeros((size, size), np.uint8)
    for part in (marks[36:42], marks[42:48], marks[48:60]):  # the eyes and the mouth, inside their outlines
        cv2.fillPoly(own_parts, [part.round().astype(np.int32)], 1)
    own_parts = own_parts > 0
    rest_of_face = (face_mask(marks, size) > 0.9) & ~(eyes_mask(marks, size) > 0.02) & ~(mouth_mask(marks, size) > 0.02)
    child_band = _child_band(still_ager, marks, size)
    children = {}
    for share in (0.0, child_features.FEATURES_SHARE):
        monkeypatch.setattr(child_features, "FEATURES_SHARE", share)
        [children[share]] = still_ager.age(crop, marks, OWN_AGE, FEMALE, [3.0])
    without, with_features = (_band(children[share]) for share in (0.0, child_features.FEATURES_SHARE))
    correlation = [_correlation(band, child_band, rest_of_face) for band in (without, with_features)]
    assert correlation[1] > correlation[0] + 0.1, correlation  # measured: 0.64 without, 0.86 with
    moved = np.abs(children[child_features.FEATURES_SHARE].astype(np.float32) - children[0.0]).mean(axis=2)
    # Measured: 1.1 grey levels over the eyes and the mouth, 3.8 over the rest of the face.
    assert moved[own_parts].mean() < 0.5 * moved[rest_of_face].mean()


def test_an_adults_target_takes_nothing_of_the_features(still_ager, face, monkeypatch):
    crop, marks = face
    results = []
    for share in (0.0, child_features.FEATURES_SHARE):
        monkeypatch.setattr(child_features, "FEATURES_SHARE", share)
        results.append(still_ager.age(crop, marks, OWN_AGE, FEMALE, [20.0, 60.0]))
    np.testing.assert_array_equal(results[0], results[1])


def test_made_a_child_dark_glasses_frames_keep_most_of_their_darkness(still_ager, face, monkeypatch):
    """Frames lie in the band the face takes from the child prototype; their thin, strong edges keep theirs."""
    crop, marks = face
    frames = np.zeros(crop.shape[:2], np.uint8)
    for eye in (marks[36:42], marks[42:48]):
        centre, width = eye.mean(axis=0), float(np.ptp(eye[:, 0]))
        axes = (round(0.9 * width), round(0.6 * width))
        cv2.ellipse(frames, (round(centre[0]), round(centre[1])), axes, 0.0, 0.0, 360.0, 1, thickness=3)
    glasses = crop.copy()
    glasses[frames > 0] = (35, 30, 30)
    darkness = {}
    for name, levels in (("frames found", child_features.LINE_LEVELS), ("no lines found", (1e6, 2e6))):
        monkeypatch.setattr(child_features, "LINE_LEVELS", levels)
        [child] = still_ager.age(glasses, marks, OWN_AGE, FEMALE, [3.0])
        skin = np.median(child[(face_mask(marks, crop.shape[0]) > 0.9) & (frames == 0)], axis=0)
        darkness[name] = float((skin - child[frames > 0]).mean())
    painted = float((np.median(crop[frames == 0], axis=0) - glasses[frames > 0]).mean())
    # Measured: 108 grey levels darker than the skin with the lines found, 62 without, 144 as painted.
    assert darkness["frames found"] > max(1.4 * darkness["no lines found"], 0.6 * painted), (darkness, painted)


def test_made_a_child_coloured_eye_shadow_takes_her_skins_colour_and_her_irises_keep_theirs(
    still_ager, face, monkeypatch
):
    """A child wears no eye shadow: purple painted on her lids turns the colour of her own skin at the lids'
    brightness, and the eyes' openings (irises, whites) keep their colour; at an adult's target the shadow stays."""
    from aging_model.prototypes.child_features import lids_mask

    crop, marks = face
    size = crop.shape[0]
    openings = np.zeros((size, size), np.uint8)
    for eye in (marks[36:42], marks[42:48]):
        cv2.fillPoly(openings, [eye.round().astype(np.int32)], 1)
    lids = (lids_mask(marks, size) > 0.9) & (openings == 0)
    shadowed = crop.copy()
    shadowed[lids] = (0.55 * shadowed[lids] + 0.45 * np.array([150, 60, 190])).astype(np.uint8)  # purple

    def hue_gap(image: np.ndarray) -> float:
        """How far the lids' chromaticity lies from her cheeks' (a, b of Lab)."""
        lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
        cheeks = lab[round(marks[29, 1]) : round(marks[33, 1]), round(marks[3, 0]) : round(marks[31, 0])]
        return float(np.linalg.norm(lab[lids][:, 1:].mean(axis=0) - cheeks.reshape(-1, 3)[:, 1:].mean(axis=0)))

    child, adult = still_ager.age(shadowed, marks, OWN_AGE, FEMALE, [3.0, 30.0])
    assert hue_gap(shadowed) > 25
    # Measured: 38.6 as painted, 9.2 made a child (28.1 without the lids' change), 38.5 at 30.
    assert hue_gap(child) < 0.4 * hue_gap(shadowed), (hue_gap(child), hue_gap(shadowed))
    assert hue_gap(adult) > 0.8 * hue_gap(shadowed)
    monkeypatch.setattr(prototype_aging, "skin_coloured_lids", lambda image, lids, tone: np.zeros_like(image))
    [child_as_before] = still_ager.age(shadowed, marks, OWN_AGE, FEMALE, [3.0])
    inside = openings > 0
    assert np.abs(child[inside].astype(int) - child_as_before[inside].astype(int)).mean() < 2.0
