"""One way in for Python users: age a photo, film a life, morph two people, without the CLI or the service.

    from aging_model import FaceAger

    ager = FaceAger()                                        # the shipped models, loaded once
    result = ager.age("me.jpg", ages=[5, 40, 80])           # a path, bytes or an RGB array
    result.composites[-1]                                    # the whole photo at 80, (H, W, 3) uint8 RGB
    result.faces[0].aged[0]                                  # the first face alone, at 5
    result.report                                            # what result.json says, as a dict
    result.save("out")                                       # the files `faceage age` writes

A photo with no face that can be aged raises `PhotoError`, whose message says why and what to try.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel
from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
from aging_model.media import animation
from aging_model.media.morph import faces_to_morph, morph_frames, morph_outputs
from aging_model.outputs import OutputFile, render_lifespan, render_photo_result
from aging_model.pipeline import DEFAULT_AGES, AgingPipeline, FaceResult, PipelineSettings
from aging_model.renderers import DEFAULT_RENDERER, make_renderer
from preprocessing.errors import PhotoError

__all__ = ["AgedPhoto", "FaceAger", "Film", "PhotoError"]

Source = str | Path | bytes | np.ndarray


@dataclass
class _Outputs:
    """Encoded files by name, as `faceage age` writes them; `report` is the JSON document that goes with them."""

    report: dict
    files: dict[str, bytes] = field(repr=False)
    report_name: str = "result.json"

    def save(self, folder: str | Path) -> Path:
        """Writes every file (and the report) into `folder`; returns the report's path."""
        folder = Path(folder)
        for name, content in self.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.report_name
        path.write_text(json.dumps(self.report, indent=2) + "\n")
        return path


@dataclass
class AgedPhoto(_Outputs):
    """A photo at each asked age: `composites[i]` is the whole photo at `ages[i]`; `faces` every face found,
    aged (`face.aged[i]`, its crop at `ages[i]`) or left out with the reason (`face.left_out`)."""

    ages: list[float] = field(default_factory=list)
    composites: list[np.ndarray] = field(default_factory=list, repr=False)
    faces: list[FaceResult] = field(default_factory=list, repr=False)


@dataclass
class Film(_Outputs):
    """Moving pictures: `frames` (RGB arrays) and their encodings in `files` (MP4, GIF, a still strip)."""

    frames: list[np.ndarray] = field(default_factory=list, repr=False)


class FaceAger:
    """The detector, the age and gender estimator, the CAAE and the renderer, loaded once and used for photo
    after photo. `renderer` is one of `aging_model.renderers.RENDERER_NAMES`; `device` "auto" takes CUDA when
    there is one; `full_size` keeps the photo's own size (else its long side is brought to 2048 px)."""

    def __init__(self, renderer: str = DEFAULT_RENDERER, device: str = "auto", full_size: bool = False):
        model = AgingModel.load(DEFAULT_MODEL_PATH, device=device)
        estimator = AgeGenderEstimator.load(DEFAULT_ESTIMATOR_PATH, device=str(model.device))
        settings = PipelineSettings(max_side=None if full_size else PipelineSettings.max_side, renderer=renderer)
        self.pipeline = AgingPipeline(model, settings=settings, estimator=estimator, renderer=make_renderer(renderer))

    def age(self, photo: Source, ages: Sequence[float] = DEFAULT_AGES, gender: str = "auto") -> AgedPhoto:
        """Every usable face of `photo` aged to each of `ages`. `gender` ("auto", "male" or "female") is the
        generator's condition; "auto" reads each face's own."""
        result = self.pipeline.run(_as_source(photo), ages=ages, gender=gender)
        report, files = render_photo_result(result, _name(photo), self.pipeline.model.card)
        return AgedPhoto(report, _by_name(files), ages=result.ages, composites=result.composites, faces=result.faces)

    def lifespan(self, photo: Source, gender: str = "auto") -> Film:
        """The photo from 0 to 100 years: each frame the whole photo (`frames`), each face's film and the
        photo's in `files` (lifespan-photo.mp4, face-N/lifespan.mp4 and .gif)."""
        result = self.pipeline.run(_as_source(photo), ages=animation.lifespan_ages(), gender=gender)
        report, files = render_lifespan(result)
        return Film(report, _by_name(files), report_name="lifespan.json", frames=result.composites)

    def morph(self, photo_a: Source, photo_b: Source, age: float, gender: str = "auto") -> Film:
        """The largest face of `photo_a` becoming that of `photo_b`, both at `age` (morph.mp4, morph.gif,
        morph-strip.jpg in `files`)."""
        a, b = faces_to_morph(self.pipeline, _as_source(photo_a), _as_source(photo_b), age, gender)
        frames = morph_frames(a, b)
        files = morph_outputs(a, b, age, sequence=frames)
        report = {"age": age, "frames": len(frames), "files": sorted(files)}
        return Film(report, files, report_name="morph.json", frames=frames)


def _as_source(photo: Source) -> str | Path | bytes:
    """Paths and bytes go to the pipeline as they are (its loader reads EXIF rotation and refuses what is not
    an image); an array is taken as RGB (or grey) uint8 pixels and handed over as a lossless PNG."""
    if not isinstance(photo, np.ndarray):
        return photo
    if photo.dtype != np.uint8 or photo.ndim not in (2, 3) or (photo.ndim == 3 and photo.shape[2] not in (3, 4)):
        raise ValueError(
            f"an array photo must be (H, W), (H, W, 3) or (H, W, 4) uint8, not {photo.shape} {photo.dtype}"
        )
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG")
    return buffer.getvalue()


def _name(photo: Source) -> str:
    return Path(photo).name if isinstance(photo, str | Path) else "photo"


def _by_name(files: list[OutputFile]) -> dict[str, bytes]:
    return {output.name: output.content for output in files}
