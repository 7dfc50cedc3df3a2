"""Text over a face: captions, names and watermarks drawn on the astronaut score >= 1; the face alone,
and what a face photo does to itself (blur, grey, glasses, JPEG), does not."""

import cv2
import numpy as np
import pytest

from curation.text_overlay import text_overlay_score


def _text(pixels, text, origin, scale, colour, thickness=1):
    out = pixels.copy()
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return out


def _caption_band(pixels):
    """A black strip along the bottom with white text in it, as on a news still or a greeting card."""
    out = pixels.copy()
    cv2.rectangle(out, (0, 170), (199, 199), (0, 0, 0), -1)
    return _text(out, "Memories 2016", (15, 192), 0.6, (255, 255, 255))


def _watermark(pixels, alpha=0.5):
    """A stock-photo watermark: white text blended at half opacity across the face."""
    layer = _text(np.zeros_like(pixels), "shutterstock", (8, 110), 0.8, (255, 255, 255), 2)
    weight = layer[..., :1].astype(np.float32) / 255 * alpha
    return (pixels * (1 - weight) + 255 * weight).astype(np.uint8)


def _glasses(pixels):
    out = pixels.copy()
    for centre in ((75, 95), (130, 95)):
        cv2.ellipse(out, centre, (22, 14), 0, 0, 360, (20, 20, 20), 2)
    cv2.line(out, (97, 95), (108, 95), (20, 20, 20), 2)
    return out


def _jpeg(pixels, quality=10):
    _, data = cv2.imencode(".jpg", pixels[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


WITH_TEXT = {
    "white_text": lambda chip: _text(chip, "HAPPY BIRTHDAY", (10, 120), 0.6, (255, 255, 255), 2),
    "black_text": lambda chip: _text(chip, "Mary Jones 1985", (5, 90), 0.6, (0, 0, 0)),
    "caption_band": _caption_band,
    "watermark": _watermark,
    "corner_copyright": lambda chip: _text(chip, "(c) stock 2017", (5, 12), 0.45, (255, 255, 255)),
}


@pytest.mark.parametrize("name", WITH_TEXT)
def test_text_over_the_face_is_flagged(chip, name):
    score, details = text_overlay_score(WITH_TEXT[name](chip))
    assert score >= 1.0, (name, score, details)
    assert details["characters"] >= 4
    x, y, w, h = details["box"]
    assert w > h > 0 and all(isinstance(v, int) for v in (x, y, w, h))


WITHOUT_TEXT = {
    "clean": lambda chip: chip,
    "blurred": lambda chip: cv2.GaussianBlur(chip, (0, 0), 3),
    "grayscale": lambda chip: np.repeat(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2),
    "glasses": _glasses,
    "heavy_jpeg": _jpeg,
    "flat": lambda chip: np.full_like(chip, 128),
}


@pytest.mark.parametrize("name", WITHOUT_TEXT)
def test_a_face_without_text_is_not_flagged(chip, name):
    score, details = text_overlay_score(WITHOUT_TEXT[name](chip))
    assert score < 1.0, (name, score, details)


def test_any_size_is_scored_and_the_box_is_in_the_callers_pixels(chip):
    """A 400 px copy scores like the chip, with its text box twice as large."""
    pixels = WITH_TEXT["white_text"](chip)
    _score, details = text_overlay_score(pixels)
    big_score, big_details = text_overlay_score(cv2.resize(pixels, (400, 400), interpolation=cv2.INTER_CUBIC))
    assert big_score >= 1.0
    assert big_details["box"][1] == pytest.approx(2 * details["box"][1], abs=6)
