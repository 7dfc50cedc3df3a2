"""Thin-plate-spline warps: content follows the moved points, the rest stays, the border is pinned."""

import cv2
import numpy as np

from preprocessing.warping import border_anchors, sampling_map, warp_points


def _dot_image(centre, size=128, background=50, brightness=250) -> np.ndarray:
    image = np.full((size, size), background, np.uint8)
    cv2.circle(image, centre, 2, brightness, -1)
    return image


def _centroid(image: np.ndarray, background: float) -> np.ndarray:
    weight = np.clip(image.astype(np.float64) - background, 0, None)
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


def test_identical_source_and_target_points_leave_the_image_unchanged(astronaut):
    points = np.array([[100.0, 120.0], [400.0, 150.0], [256.0, 256.0], [200.0, 400.0]])
    warped = warp_points(astronaut, points, points)
    assert warped.shape == astronaut.shape and warped.dtype == astronaut.dtype
    assert np.abs(warped.astype(int) - astronaut.astype(int)).max() <= 1


def test_identical_points_give_a_map_that_sits_on_the_border_at_the_border():
    """What does hold despite the grid misalignment: the map is pinned at the image's corners and edges'
    normal direction, so nothing is pulled in from outside the image when the points do not move."""
    anchors = border_anchors(256, 256)
    map_x, map_y = sampling_map(anchors, anchors, (256, 256))
    assert map_x.shape == map_y.shape == (256, 256) and map_x.dtype == np.float32
    assert np.abs(map_y[0]).max() < 0.1 and np.abs(map_y[-1] - 255).max() < 0.1
    assert np.abs(map_x[:, 0]).max() < 0.1 and np.abs(map_x[:, -1] - 255).max() < 0.1


def test_a_warp_carries_the_content_at_a_source_point_to_its_target_point():
    centre = (64, 64)
    image = _dot_image(centre)
    source = np.array([centre, (34, 64), (94, 64), (64, 34), (64, 94)], np.float64)
    target = source.copy()
    target[0, 0] += 6
    warped = warp_points(image, source, target)
    moved = _centroid(warped, 50) - _centroid(image, 50)
    assert abs(moved[0] - 6) < 0.5 and abs(moved[1]) < 0.3


def test_content_on_a_control_point_that_keeps_its_place_stays_there():
    source = np.array([(64, 64), (34, 64), (94, 64), (64, 34), (64, 94)], np.float64)
    target = source.copy()
    target[0, 0] += 6
    still = _dot_image((94, 64))
    assert np.abs(_centroid(warp_points(still, source, target), 50) - _centroid(still, 50)).max() < 0.3


def test_a_warp_in_the_other_direction_moves_the_content_back():
    centre = (64, 64)
    image = _dot_image(centre)
    source = np.array([centre, (34, 64), (94, 64), (64, 34), (64, 94)], np.float64)
    target = source.copy()
    target[0, 1] -= 6  # up
    moved = _centroid(warp_points(image, source, target), 50) - _centroid(image, 50)
    assert abs(moved[1] + 6) < 0.5 and abs(moved[0]) < 0.3


def test_with_no_margin_the_pixels_on_the_image_border_do_not_move(astronaut):
    source = np.array([[256.0, 256.0], [200.0, 200.0], [320.0, 200.0], [256.0, 340.0]])
    target = source.copy()
    target[0] += [0, 12]
    warped = warp_points(astronaut, source, target, border_margin=0.0).astype(int)
    original = astronaut.astype(int)
    assert np.abs(warped[200:300, 200:300] - original[200:300, 200:300]).mean() > 5  # the middle did move
    border = lambda a: np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])  # noqa: E731
    assert np.abs(border(warped) - border(original)).max() <= 4


def test_with_no_margin_the_border_rows_keep_their_values_across_the_border(astronaut):
    """A weaker form of the pin that holds today: image content that only varies across the border (rows
    constant along it) is unchanged on the border, i.e. the border does not move inwards or outwards."""
    stripes = np.repeat(astronaut[:, 256:257], 512, axis=1)  # each row one colour: varies in y only
    source = np.array([[256.0, 256.0], [200.0, 200.0], [320.0, 200.0], [256.0, 340.0]])
    target = source.copy()
    target[0] += [0, 12]
    warped = warp_points(stripes, source, target, border_margin=0.0).astype(int)
    assert np.abs(warped[0] - stripes[0].astype(int)).max() <= 1
    assert np.abs(warped[-1] - stripes[-1].astype(int)).max() <= 1


def test_coinciding_control_points_do_not_break_the_spline():
    """Regression: dlib puts the inner and outer lip points of a closed mouth on the same pixel, which made
    the thin-plate spline's system singular."""
    centre = (64, 64)
    image = _dot_image(centre)
    source = np.array([centre, centre, (34, 64), (94, 64), (64, 34), (64, 94), (64, 94)], np.float64)
    target = source.copy()
    target[:2, 0] += 6  # the duplicated point moves, both copies alike
    warped = warp_points(image, source, target)
    assert warped.shape == image.shape and np.isfinite(warped).all()
    moved = _centroid(warped, 50) - _centroid(image, 50)
    assert abs(moved[0] - 6) < 0.5


def test_border_anchors_with_a_margin_lie_outside_the_image():
    width, height = 100, 80
    anchors = border_anchors(width, height, per_side=8, margin=0.1)
    assert anchors.shape == (32, 2)
    inside = (anchors[:, 0] >= 0) & (anchors[:, 0] <= width - 1) & (anchors[:, 1] >= 0) & (anchors[:, 1] <= height - 1)
    assert not inside.any()
    assert np.allclose(anchors.min(axis=0), [-9.9, -7.9]) and np.allclose(anchors.max(axis=0), [108.9, 86.9])
    on_border = border_anchors(width, height)
    assert np.allclose(on_border.min(axis=0), [0, 0]) and np.allclose(on_border.max(axis=0), [width - 1, height - 1])
    # every anchor without a margin sits on one of the four edges
    x, y = on_border[:, 0], on_border[:, 1]
    assert (np.isclose(x, 0) | np.isclose(x, width - 1) | np.isclose(y, 0) | np.isclose(y, height - 1)).all()
