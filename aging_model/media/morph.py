"""One person becoming another at one age: both faces aged to that age by the pipeline, then morphed.

A face here is described by what the prototype renderer works with: its 68 landmarks (shape) and its pixels
in the chip framing (appearance). Interpolating those is the classic morph: each frame's shape is the blend of
both shapes, both faces are bent to it with the same thin-plate spline as the aging, and their pixels are
cross-faded. At the ends the frames are the two aged faces themselves."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from preprocessing.warping import border_anchors, sampling_map

MORPH_FRAMES = 41  # about 4 s at animation.FRAMES_PER_SECOND
MORPH_SIZE = 512  # both faces are brought to this size (chip framing) before they are morphed


@dataclass(frozen=True)
class MorphFace:
    """An aged face in the chip framing and its 68 landmarks in its own pixels."""

    pixels: np.ndarray  # (S, S, 3) uint8
    landmarks: np.ndarray  # (68, 2)

    def resized(self, size: int) -> MorphFace:
        scale = size / self.pixels.shape[0]
        pixels = cv2.resize(self.pixels, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        return MorphFace(pixels, self.landmarks * scale)


def morph_frames(a: MorphFace, b: MorphFace, frames: int = MORPH_FRAMES, size: int = MORPH_SIZE) -> list[np.ndarray]:
    """`frames` images from `a` (first) to `b` (last), each (size, size, 3) uint8."""
    a, b = a.resized(size), b.resized(size)
    anchors = border_anchors(size, size)
    frames_out = []
    for t in np.linspace(0.0, 1.0, frames):
        shape = (1.0 - t) * a.landmarks + t * b.landmarks
        warped_a = _bent_to(a, shape, anchors, size)
        warped_b = _bent_to(b, shape, anchors, size)
        blend = (1.0 - t) * warped_a.astype(np.float32) + t * warped_b.astype(np.float32)
        frames_out.append(np.clip(blend + 0.5, 0, 255).astype(np.uint8))
    return frames_out


def _bent_to(face: MorphFace, shape: np.ndarray, anchors: np.ndarray, size: int) -> np.ndarray:
    """The face bent so that its landmarks land on `shape` (the border stays where it is)."""
    output_points = np.concatenate([shape, anchors])
    input_points = np.concatenate([face.landmarks, anchors])
    map_x, map_y = sampling_map(output_points, input_points, (size, size))
    return cv2.remap(face.pixels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def strip_indices(frames: int, columns: int = 7) -> list[int]:
    """Evenly spaced frames for a still strip of the morph, both ends included."""
    return [round(i) for i in np.linspace(0, frames - 1, columns)]


def faces_to_morph(pipeline, photo_a, photo_b, age: float, gender: str = "auto") -> tuple[MorphFace, MorphFace]:
    """The largest usable face of each photo, aged to `age` by `pipeline` (its PhotoErrors pass through, so a
    photo without a usable face says why)."""
    from preprocessing.landmarks import DenseLandmarker

    landmarker = pipeline.landmarker or DenseLandmarker()
    from preprocessing.errors import PhotoError

    faces = []
    for label, photo in (("A", photo_a), ("B", photo_b)):
        try:
            face = pipeline.run(photo, ages=[age], gender=gender).aged_faces[0]
        except PhotoError as error:  # say which of the two photos it is about
            error.message = f"photo {label}: {error.message}"
            error.args = (error.message,)
            raise
        pixels = face.aged[0]
        faces.append(MorphFace(pixels, landmarker.landmarks(pixels)))
    return faces[0], faces[1]


def morph_outputs(
    a: MorphFace, b: MorphFace, age: float, frames: int = MORPH_FRAMES, sequence: list[np.ndarray] | None = None
) -> dict[str, bytes]:
    """morph.mp4, morph.gif and morph-strip.jpg of `a` becoming `b` at `age` (from `sequence`, its frames,
    when they are made already)."""
    import io

    from aging_model.media import animation
    from aging_model.media.sheets import age_strip

    sequence = sequence or morph_frames(a, b, frames)
    last = len(sequence) - 1
    captions = [f"age {age:g}: {round(100 * i / last)} % B" for i in range(len(sequence))]
    captioned = [animation.captioned(frame, caption) for frame, caption in zip(sequence, captions)]
    picks = strip_indices(len(sequence))
    labels = ["A" if i == 0 else "B" if i == last else f"{round(100 * i / last)} %" for i in picks]
    strip = io.BytesIO()
    age_strip([sequence[i] for i in picks], labels, cell=192).save(strip, "JPEG", quality=92)
    return {
        "morph.mp4": animation.mp4_bytes(captioned),
        "morph.gif": animation.gif_bytes(captioned),
        "morph-strip.jpg": strip.getvalue(),
    }
