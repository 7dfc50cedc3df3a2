"""Moving pictures of a result: a face through its whole life, a whole photo with every face aging, and one
person becoming another. Frames are RGB arrays; MP4 (H.264, through PyAV, whose wheel carries FFmpeg and
x264) and GIF (Pillow) come back as bytes, so the CLI writes them to files and the service stores them."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FRAMES_PER_SECOND = 10
LIFESPAN_FRAMES = 41  # 0 to 100 years in steps of 2.5: about 4 s at 10 frames a second
MAX_VIDEO_SIDE = 1280  # a whole photo's animation is scaled down to this (phones play 720p-1080p smoothly)
MIN_FACE_SIDE = 320  # a face's own animation is shown at least this large, whatever its size in the photo
GIF_SIDE = 256  # GIFs are for sharing and previews: 256 colours per frame, kept small


def lifespan_ages(frames: int = LIFESPAN_FRAMES) -> list[float]:
    """Ages from 0 to 100, evenly spaced, one per frame."""
    return [float(age) for age in np.linspace(0.0, 100.0, frames)]


def captioned(frame: np.ndarray, caption: str) -> np.ndarray:
    """The frame with `caption` in a dark band along its bottom edge, sized to the frame."""
    image = Image.fromarray(frame)
    height = image.height
    band = max(14, height // 12)
    font = ImageFont.load_default(size=max(10, int(band * 0.7)))
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, height - band, image.width, height), fill=(0, 0, 0, 150))
    draw.text((image.width / 2, height - band / 2), caption, fill="white", font=font, anchor="mm")
    return np.asarray(image)


def age_caption(age: float) -> str:
    return f"age {age:g}"


def enlarged(frame: np.ndarray, min_side: int = MIN_FACE_SIDE) -> np.ndarray:
    """A small face crop enlarged so that it can be seen and its caption read (larger ones are kept)."""
    image = Image.fromarray(frame)
    scale = min_side / min(image.size)
    if scale <= 1.0:
        return frame
    return np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS))


def fitted(frame: np.ndarray, max_side: int) -> np.ndarray:
    """The frame scaled down to at most `max_side` and cropped to even sides (H.264's 4:2:0 needs them)."""
    image = Image.fromarray(frame)
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize((max(2, round(image.width * scale)), max(2, round(image.height * scale))), Image.LANCZOS)
    width, height = image.width - image.width % 2, image.height - image.height % 2
    return np.asarray(image)[:height, :width]


def mp4_bytes(frames: Sequence[np.ndarray], fps: int = FRAMES_PER_SECOND, max_side: int = MAX_VIDEO_SIDE) -> bytes:
    """H.264 in MP4, playable in every browser (yuv420p, +faststart so it starts before it has downloaded)."""
    frames = [fitted(frame, max_side) for frame in frames]
    height, width = frames[0].shape[:2]
    # +faststart moves the index to the front after writing, which needs a real file to rewrite.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        _encode_h264(frames, path, fps, width, height)
        return path.read_bytes()


def _encode_h264(frames: Sequence[np.ndarray], path: Path, fps: int, width: int, height: int) -> None:
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Deterministic and quick: one thread, a constant quality that keeps skin texture, and x264's "veryfast"
        # (2.4 times faster than its default here, for files no larger).
        stream.options = {"crf": "20", "preset": "veryfast", "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame[:height, :width], format="rgb24")))
        container.mux(stream.encode())


def gif_bytes(frames: Sequence[np.ndarray], fps: int = FRAMES_PER_SECOND, max_side: int = GIF_SIDE) -> bytes:
    """An endlessly looping GIF."""
    # Fast octree palettes: 40 times faster than Pillow's default median cut, and no worse on faces.
    images = [
        Image.fromarray(fitted(frame, max_side)).quantize(256, method=Image.Quantize.FASTOCTREE) for frame in frames
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buffer.getvalue()


def frames_and_seconds(content: bytes) -> tuple[int, float]:
    """(frames, seconds) of an MP4 or GIF as a player sees it: every frame decoded, the duration from the
    last frame's end (for tests and reports)."""
    with av.open(io.BytesIO(content)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
    last = decoded[-1]
    step = float(last.duration * last.time_base) if last.duration else 1.0 / FRAMES_PER_SECOND
    return len(decoded), float(last.pts * last.time_base) + step
