"""A photo's results as files: crops, one image per age, strips, composites and result.json.

`render_photo_result` encodes everything in memory (the service stores the bytes in its database);
`write_photo_result` writes the same files into a folder (the CLI). Images are encoded from pixel arrays, so
no metadata of the uploaded file (EXIF, GPS) is carried over.
"""

from __future__ import annotations

import functools
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aging_model.age_groups import GROUP_LABELS
from aging_model.media import animation
from aging_model.media.sheets import age_strip
from aging_model.pipeline import PhotoResult


@dataclass(frozen=True)
class OutputFile:
    name: str  # relative path, e.g. "face-1/age-040.png"
    kind: str  # composite, aligned, aged, generated, strip
    face: int | None
    age: float | None
    content_type: str
    content: bytes


def age_label(age: float) -> str:
    return f"{age:g}"


def _file_age(age: float) -> str:
    return f"{int(age):03d}" if float(age).is_integer() else f"{age:g}"


@dataclass(frozen=True)
class _ToEncode:
    """An output file before its image is encoded: all of a photo's files are encoded at once, in threads."""

    name: str
    kind: str
    face: int | None
    age: float | None
    pixels: np.ndarray | Image.Image
    fmt: str  # PNG or JPEG

    def encoded(self) -> OutputFile:
        image = self.pixels if isinstance(self.pixels, Image.Image) else Image.fromarray(self.pixels)
        buffer = io.BytesIO()
        # PNG at zlib level 1: three times faster than the default 6 for files about 10 % larger.
        options = {"quality": 92} if self.fmt == "JPEG" else {"compress_level": 1}
        image.save(buffer, self.fmt, **options)
        return OutputFile(self.name, self.kind, self.face, self.age, f"image/{self.fmt.lower()}", buffer.getvalue())


def _png(name, kind, face, age, pixels) -> _ToEncode:
    return _ToEncode(name, kind, face, age, pixels, "PNG")


def _jpeg(name, kind, face, age, pixels) -> _ToEncode:
    return _ToEncode(name, kind, face, age, pixels, "JPEG")


@functools.lru_cache(maxsize=1)
def _encoders() -> ThreadPoolExecutor:
    # Pillow's encoders release the GIL, so the files of one photo are encoded on every core at once.
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="encode")


def _encode_all(pending: list[_ToEncode]) -> list[OutputFile]:
    return list(_encoders().map(_ToEncode.encoded, pending))


def render_photo_result(
    result: PhotoResult, source_name: str, model_card: dict, lifespan: PhotoResult | None = None
) -> tuple[dict, list[OutputFile]]:
    """(result.json's document, every output file) of one photo, encoded in memory. With `lifespan` (the same
    photo aged to `animation.lifespan_ages()`), also each face's life from 0 to 100 and the whole photo's, as
    MP4 and GIF."""
    files: list[_ToEncode] = []
    faces_json = []
    for number, face in enumerate(result.faces, start=1):
        entry = {
            "face": number,
            "box": [round(float(v), 1) for v in face.box],
            "quality": face.quality.to_dict(),
            "usable": face.quality.usable,
            "aged": face.aged is not None,
        }
        if face.left_out:  # why the face was not aged: a code for programs, a sentence for people
            entry["left_out"] = [{"code": code, "message": message} for code, message in face.left_out.items()]
        if face.aged is not None:
            entry["own_age_group"] = GROUP_LABELS[face.own_age_group]
            entry["gender_condition_female"] = round(face.gender_condition, 3)
            if face.estimated_age is not None:
                entry["estimated_age"] = round(face.estimated_age, 1)
                entry["estimated_female_probability"] = round(face.female_probability, 3)
            entry["files"], face_files = _face_files(number, face, result.ages)
            files += face_files
        faces_json.append(entry)
    composites = []
    for age, composite in zip(result.ages, result.composites):
        name = f"photo-age-{_file_age(age)}.jpg"
        files.append(_jpeg(name, "composite", None, age, composite))
        composites.append({"age": age, "file": name})
    document = {
        "photo": source_name,
        "original_size": list(result.photo.original_size),
        "working_size": [int(result.photo.pixels.shape[1]), int(result.photo.pixels.shape[0])],
        "ages": result.ages,
        "faces": faces_json,
        "composites": composites,
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "photos_aged_together": result.photos_aged_together,  # > 1 when a worker batched several jobs' faces
        "model": {k: model_card.get(k) for k in ("method", "epochs", "training_faces", "licence") if k in model_card},
    }
    encoded = _encode_all(files)
    if lifespan is not None:
        document["lifespan"], videos = render_lifespan(lifespan)
        animated = {item["face"]: {"mp4": item["mp4"], "gif": item["gif"]} for item in document["lifespan"]["faces"]}
        for entry in faces_json:
            if entry["face"] in animated:
                entry["files"]["lifespan"] = animated[entry["face"]]
        encoded += videos
    return document, encoded


def render_lifespan(lifespan: PhotoResult) -> tuple[dict, list[OutputFile]]:
    """Every aged face from 0 to 100 (MP4 and GIF, the age on each frame) and the whole photo (MP4)."""
    captions = [animation.age_caption(age) for age in lifespan.ages]
    work = {"lifespan-photo.mp4": (lifespan.composites, animation.mp4_bytes)}
    faces = []
    for number, face in enumerate(lifespan.faces, start=1):
        if face.aged is None:
            continue
        folder = f"face-{number}"
        faces.append({"face": number, "mp4": f"{folder}/lifespan.mp4", "gif": f"{folder}/lifespan.gif"})
        frames = [animation.enlarged(frame) for frame in face.aged]
        work[faces[-1]["mp4"]] = (frames, animation.mp4_bytes)
        work[faces[-1]["gif"]] = (frames, animation.gif_bytes)

    def encode(name: str) -> OutputFile:
        frames, encoder = work[name]
        content = encoder([animation.captioned(frame, caption) for frame, caption in zip(frames, captions)])
        kind, face = ("lifespan", int(name.split("/")[0][5:])) if "/" in name else ("lifespan-photo", None)
        return OutputFile(name, kind, face, None, "video/mp4" if name.endswith(".mp4") else "image/gif", content)

    document = {
        "ages": lifespan.ages,
        "frames_per_second": animation.FRAMES_PER_SECOND,
        "photo": "lifespan-photo.mp4",
        "faces": faces,
    }
    return document, list(_encoders().map(encode, list(work)))


def _face_files(number: int, face, ages: list[float]) -> tuple[dict, list[_ToEncode]]:
    folder = f"face-{number}"
    files = [_png(f"{folder}/aligned.png", "aligned", number, None, face.detail)]
    per_age = []
    for age, image, generated in zip(ages, face.aged, face.generated):
        aged = _png(f"{folder}/age-{_file_age(age)}.png", "aged", number, age, image)
        raw = _png(f"{folder}/generated-age-{_file_age(age)}.png", "generated", number, age, generated)
        files += [aged, raw]
        per_age.append({"age": age, "file": aged.name, "generated": raw.name})
    input_label = "input" if face.estimated_age is None else f"input (looks {face.estimated_age:.0f})"
    strip = age_strip([face.detail, *face.aged], [input_label, *(age_label(a) for a in ages)])
    files.append(_jpeg(f"{folder}/strip.jpg", "strip", number, None, strip))
    return {"aligned": files[0].name, "ages": per_age, "strip": files[-1].name}, files


def write_photo_result(
    result: PhotoResult, folder: Path, source_name: str, model_card: dict, lifespan: PhotoResult | None = None
) -> Path:
    """Write every output of one photo into `folder`; returns the path of its result.json."""
    document, files = render_photo_result(result, source_name, model_card, lifespan=lifespan)
    for output in files:
        path = folder / output.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(output.content)
    path = folder / "result.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
