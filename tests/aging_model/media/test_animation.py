"""Moving pictures: frame counts, durations, captions and byte-for-byte repeatable encoding."""

import numpy as np
import pytest

from aging_model.media import animation


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 161, 3), dtype=np.uint8)  # odd width: H.264 needs even sides
    return [np.roll(base, i, axis=1) for i in range(animation.LIFESPAN_FRAMES)]


def test_a_lifespan_goes_from_0_to_100_in_41_frames_of_about_4_seconds():
    ages = animation.lifespan_ages()
    assert len(ages) == 41 and ages[0] == 0 and ages[-1] == 100 and ages[1] == 2.5
    assert len(ages) / animation.FRAMES_PER_SECOND == pytest.approx(4.1)


@pytest.mark.parametrize("encode", [animation.mp4_bytes, animation.gif_bytes])
def test_every_frame_is_encoded_at_ten_frames_a_second_and_the_same_frames_give_the_same_bytes(frames, encode):
    content = encode(frames)
    assert animation.frames_and_seconds(content) == (41, pytest.approx(4.1, abs=0.01))
    assert encode(frames) == content


def test_mp4_is_h264_with_even_sides_and_large_photos_are_scaled_down():
    import io

    import av

    big = [np.full((1501, 2001, 3), value, np.uint8) for value in (0, 128, 255)]
    with av.open(io.BytesIO(animation.mp4_bytes(big))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (1280, 960)


def test_the_caption_is_written_in_a_band_along_the_bottom():
    frame = np.full((200, 200, 3), 255, np.uint8)
    captioned = animation.captioned(frame, animation.age_caption(42.5))
    assert animation.age_caption(42.5) == "age 42.5"
    assert (captioned[:150] == 255).all()  # the face itself is untouched
    assert captioned[185:].mean() < 200  # a dark band with white letters


def test_small_faces_are_enlarged_for_their_animation_and_large_ones_kept():
    assert animation.enlarged(np.zeros((104, 104, 3), np.uint8)).shape == (320, 320, 3)
    assert animation.enlarged(np.zeros((512, 512, 3), np.uint8)).shape == (512, 512, 3)
