"""The latent-space explorer: render a code at any age and gender, sample and rank codes, bring a photo in.

Everything here runs on the CPU whatever the machine has: one 64 px face takes a few milliseconds there, and
rendering a code on one device, one face per generator call, is what makes the same code give the same PNG
bytes every time (a batch of faces, or a GPU, can round a pixel the other way).
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aging_model.age_groups import age_condition
from aging_model.caae.inference import DEFAULT_MODEL_PATH, AgingModel
from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH, AgeGenderEstimator
from aging_model.explore.directions import DEFAULT_DIRECTIONS_PATH, LatentDirections, file_digest, load_directions
from aging_model.explore.latent import LATENT_DIM, code_from_latent, latent_from_code, sample_codes
from aging_model.explore.ranking import DEFAULT_REALISM_PATH, FaceJudgement, RealismReference, judge_faces
from preprocessing.alignment import align_face
from preprocessing.detection import FaceDetector
from preprocessing.errors import NoUsableFace
from preprocessing.loading import load_photo

log = logging.getLogger(__name__)

DISPLAY_SIZE = 256  # the 64 px face upscaled for the page (bicubic: smooth, and the same on every run)
GENDERS = ("male", "female")
MAX_AGE = 100
MAX_SAMPLES = 32  # best of N: each face costs about 20 ms to render and judge on 2 cores
_FEMALE_WEIGHT = {"male": 0.0, "female": 1.0}
# Fixed, so the bytes never depend on Pillow's default. Level 1, as the service's results: a 256 px face encodes in
# 4 ms instead of zlib's default 19 ms, at 77 KB instead of 65 (measured), and the slider waits on it.
_PNG_COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class RankedFace:
    code: str
    judgement: FaceJudgement


@dataclass(frozen=True)
class PhotoCode:
    """A photo's face as a code, with what the estimator reads from it (to show it at its own age)."""

    code: str
    estimated_age: float
    gender: str
    box: np.ndarray  # the face in the photo's pixels


def check_age(age: float) -> float:
    """The age as a float, or ValueError: the generator's conditions span 0 to 100 years."""
    age = float(age)
    if not np.isfinite(age) or not 0 <= age <= MAX_AGE:
        raise ValueError(f"age must be a number of years from 0 to {MAX_AGE}")
    return age


def check_gender(gender: str) -> str:
    if gender not in GENDERS:
        raise ValueError("gender must be male or female")
    return gender


def check_sample_count(count: int) -> int:
    if not 1 <= count <= MAX_SAMPLES:
        raise ValueError(f"n must be a whole number from 1 to {MAX_SAMPLES}")
    return count


class FaceExplorer:
    """The generator, the judges of best-of-N and the named directions, loaded once."""

    def __init__(
        self,
        model: AgingModel,
        estimator: AgeGenderEstimator,
        directions: LatentDirections,
        realism: RealismReference,
    ):
        if model.config.z_dim != LATENT_DIM:
            raise ValueError(f"codes have {LATENT_DIM} digits; this model's latent has {model.config.z_dim} values")
        self.model, self.estimator, self.directions, self.realism = model, estimator, directions, realism
        self.photo_detector = FaceDetector()
        self._photo_detection = threading.Lock()
        # Rendered faces fill the image: a large minimum face size keeps MTCNN's image pyramid short.
        self.render_detector = FaceDetector(min_face_px=DISPLAY_SIZE * 3 // 8)

    @classmethod
    def load(
        cls,
        model_path: Path = DEFAULT_MODEL_PATH,
        estimator_path: Path = DEFAULT_ESTIMATOR_PATH,
        directions_path: Path = DEFAULT_DIRECTIONS_PATH,
        realism_path: Path = DEFAULT_REALISM_PATH,
    ) -> FaceExplorer:
        """FileNotFoundError or ValueError with a message when a file is missing or not what it should be."""
        model = AgingModel.load(model_path, device="cpu")
        directions, realism = load_directions(directions_path), RealismReference.load(realism_path)
        digest = file_digest(model_path)
        for name, card in (("directions", directions.card), ("realism reference", realism.card)):
            if card.get("model_sha256") not in (None, digest):
                log.warning("the explorer's %s were built for another model than %s: rebuild them", name, model_path)
        return cls(model, AgeGenderEstimator.load(estimator_path, device="cpu"), directions, realism)

    def render(self, code: str, age: float, gender: str) -> np.ndarray:
        """The face of `code` at `age` and `gender` as the generator makes it (see `render_face`)."""
        return render_face(self.model, code, age, gender)

    def displayed(self, code: str, age: float, gender: str) -> np.ndarray:
        """The rendered face as the page shows it (see `upscale_for_display`)."""
        return upscale_for_display(self.render(code, age, gender))

    def face_png(self, code: str, age: float, gender: str) -> bytes:
        """The displayed face as PNG bytes: the same arguments give the same bytes."""
        return _png(self.displayed(code, age, gender))

    def thumbnail_png(self, code: str, age: float, gender: str) -> bytes:
        """The face as generated (64 px) as PNG bytes: small enough to send several inline."""
        return _png(self.render(code, age, gender))

    def best_of(self, count: int, age: float, gender: str, seed: int) -> list[RankedFace]:
        """`count` codes drawn from the prior with `seed`, rendered at `age` and `gender`, best first."""
        age, gender = check_age(age), check_gender(gender)
        codes = sample_codes(check_sample_count(count), seed)
        faces = np.stack([self.render(code, age, gender) for code in codes])
        displayed = [upscale_for_display(face) for face in faces]
        judgements = judge_faces(
            self.render_detector, self.estimator, self.realism, faces, displayed, age, _FEMALE_WEIGHT[gender]
        )
        ranked = [RankedFace(code, judgement) for code, judgement in zip(codes, judgements)]
        return sorted(ranked, key=lambda face: -face.judgement.score)  # stable: ties keep the draw's order

    def code_of_photo(self, source: bytes | str | Path) -> PhotoCode:
        """The largest face of a photo as a code; PhotoError (NoUsableFace, NotAnImage...) for the user."""
        photo = load_photo(source)
        with self._photo_detection:  # detect() sets the detector's minimum face size for each photo's scale
            faces = self.photo_detector.detect(photo.pixels, max_faces=1)
        if not faces:
            raise NoUsableFace("no face found in the photo; use a photo where the face is clearly visible")
        face = faces[0]
        aligned = align_face(photo.pixels, face.landmarks, self.model.resolution).pixels
        estimate = self.estimator.estimate(aligned[None])
        return PhotoCode(
            code=code_from_latent(encode_face(self.model, aligned)),
            estimated_age=float(np.clip(estimate.ages[0], 0, MAX_AGE)),
            gender="female" if estimate.female_probability[0] >= 0.5 else "male",
            box=face.box / photo.scale,
        )

    def direction_scores(self, code: str) -> np.ndarray:
        """Where the code lies along each named direction, in spreads of the training faces."""
        return self.directions.scores(latent_from_code(code))

    def steer(self, code: str, index: int, score: float) -> str:
        """The code moved along direction `index` to `score` (in spreads), written down again."""
        return code_from_latent(self.directions.steer(latent_from_code(code), index, score))


@torch.inference_mode()
def render_face(model: AgingModel, code: str, age: float, gender: str) -> np.ndarray:
    """The face of `code` at `age` (0-100; between group centres the conditions are interpolated) and
    `gender`, as the generator makes it: (R, R, 3) uint8, one face per generator call."""
    latent = torch.from_numpy(latent_from_code(code))[None].to(model.device)
    ages = torch.from_numpy(age_condition(check_age(age)))[None].to(model.device)
    female = _FEMALE_WEIGHT[check_gender(gender)]
    genders = torch.tensor([[1.0 - female, female]], device=model.device)
    image = model.generator(latent, ages, genders)[0]
    return image.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def upscale_for_display(face: np.ndarray) -> np.ndarray:
    """A generated face at DISPLAY_SIZE, bicubic: smooth, and the same pixels on every run."""
    image = Image.fromarray(face).resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.BICUBIC)
    return np.asarray(image)


@torch.inference_mode()
def encode_face(model: AgingModel, aligned: np.ndarray) -> np.ndarray:
    """The latent (z_dim,) of one aligned face (R, R, 3) uint8."""
    faces = torch.from_numpy(np.ascontiguousarray(aligned))[None].permute(0, 3, 1, 2).float().to(model.device)
    return model.encoder(faces.div(127.5).sub(1.0))[0].double().cpu().numpy()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
