"""Safe photo loading: any common format and mode to an RGB uint8 array, with memory bounded.

- The pixel count is read from the header and checked before anything is decoded (decompression bombs).
- JPEGs are decoded straight at a reduced scale (libjpeg's DCT scaling via Pillow's draft mode), so a
  50-megapixel phone photo never exists at full size in memory; other formats are reduced after decoding.
- EXIF orientation is applied; transparency is flattened on white; CMYK, 16-bit, palette and grayscale
  images become 8-bit RGB. HEIC/HEIF from phones is read through pillow-heif.
- Beyond the decoded image itself, memory stays small whatever the mode: the image is converted to 8-bit RGB
  and reduced towards the working size a strip of rows at a time (a 49 MP 16-bit PNG would otherwise pass
  through several full-size float64 copies, over a gigabyte), and turned upright once it is small.
- Nothing else of the file is kept: metadata (EXIF, GPS) does not survive into the returned pixels.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from preprocessing.errors import ImageTooLarge, NotAnImage, PhotoError, TruncatedImage

try:  # HEIC support is optional at import time so a broken libheif never blocks JPEG users
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

DEFAULT_MAX_PIXELS = 120_000_000  # refuse to even start decoding beyond this (a 120 MP photo)
# Pixels actually decoded at once. A JPEG is decoded at a reduced scale when it is larger than the working size,
# so a 108 MP phone photo costs a few MB; other formats (PNG, WebP, HEIC, TIFF) decode whole, and a tiny PNG
# can declare 120 MP of one colour (360 MB decoded): those are refused from their header beyond 50 MP, more
# than any phone's HEIC (48-50 MP).
DEFAULT_MAX_DECODED_PIXELS = 50_000_000
DEFAULT_MAX_SIDE = 2048  # long side of the working copy; composites are written at this size
_DRAFT_COVERAGE = 0.9  # a JPEG may be decoded down to 90 % of max_side when that saves decoding work
_EXIF_ORIENTATION = 0x0112
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_UPRIGHT = {  # how each EXIF orientation is undone (as ImageOps.exif_transpose does)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_STRIP_PIXELS = 1_000_000  # pixels converted at once: a strip's temporary copies stay a few MB
_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


@dataclass(frozen=True)
class Photo:
    """A decoded photo: RGB uint8 pixels (H, W, 3), possibly reduced from the file's own size."""

    pixels: np.ndarray
    original_size: tuple[int, int]  # (width, height) after EXIF rotation, before any reduction
    format: str

    @property
    def scale(self) -> float:
        """Working pixels per original pixel (1.0 when not reduced)."""
        return self.pixels.shape[1] / self.original_size[0]


def load_photo(
    source: str | Path | bytes | BinaryIO,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_pixels: int = DEFAULT_MAX_DECODED_PIXELS,
) -> Photo:
    """Decode a photo from a path, bytes or a binary file; raise a `PhotoError` the user can act on.

    `max_side` bounds the long side of the returned pixels (None keeps the full size); `max_pixels` the photo's
    declared size, `max_decoded_pixels` what would be decoded at once (see DEFAULT_MAX_DECODED_PIXELS).
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP and refuses from 179 MP; our own limit (max_pixels) decides in between.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
    except FileNotFoundError:
        raise PhotoError(f"file not found: {source}") from None
    except IsADirectoryError:
        raise PhotoError(f"{source} is a folder, not a photo") from None
    except PermissionError:
        raise PhotoError(f"cannot read {source}: permission denied") from None
    except Image.DecompressionBombError:
        raise ImageTooLarge("the image declares too many pixels to decode safely; send a smaller photo") from None
    except (Image.UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise NotAnImage("this file is not an image Faceage can read (JPEG, PNG, WebP, HEIC, TIFF, BMP...)") from None
    with image:
        return _decode(image, max_side, max_pixels, max_decoded_pixels)


def _decode(image: Image.Image, max_side: int | None, max_pixels: int, max_decoded_pixels: int) -> Photo:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the photo has {width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f}. "
            "Send a smaller version."
        )
    if width < 1 or height < 1:
        raise NotAnImage("the image is empty")
    image_format = image.format or "unknown"
    if max_side and image_format == "JPEG" and max(width, height) > max_side:
        # Decode at the smallest DCT scale (1/2, 1/4, 1/8) that still covers most of max_side: a 12 MP phone
        # photo (4000 px) then decodes at half scale to 2000 px, a quarter of the work of decoding it whole to
        # reduce it to 2048, for 2 % less resolution.
        factor = max_side * _DRAFT_COVERAGE / max(width, height)
        image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))
    decoded_width, decoded_height = image.size  # after a JPEG's reduced-scale decoding is chosen
    if decoded_width * decoded_height > max_decoded_pixels:
        raise ImageTooLarge(
            f"this {image_format} has {width * height / 1e6:.0f} megapixels and would be decoded whole; the limit "
            f"is {max_decoded_pixels / 1e6:.0f}. Send a smaller version"
            + (" or a JPEG." if image_format != "JPEG" else ".")
        )
    try:
        image.load()
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError) as error:
        if "truncated" in str(error).lower() or "broken" in str(error).lower():
            raise TruncatedImage("the image file is truncated (incomplete upload or copy); send it again") from None
        raise NotAnImage(f"the image could not be decoded ({error}); send a JPEG or PNG") from None
    original_size = (height, width) if orientation in _ROTATED_ORIENTATIONS else (width, height)
    pixels = _reduced_rgb(image, max_side)
    if max_side and max(image.size) > max_side:  # the working size follows from the decoded size, not the strips'
        pixels = _resize(pixels, _working_size(image.size, max_side))
    if orientation in _UPRIGHT:  # turned once small: turning the decoded image would copy it whole
        pixels = np.asarray(Image.fromarray(pixels).transpose(_UPRIGHT[orientation]))
    return Photo(pixels=pixels, original_size=original_size, format=image_format)


def _reduced_rgb(image: Image.Image, max_side: int | None) -> np.ndarray:
    """The image as 8-bit RGB, box-averaged by the largest whole factor that keeps it at least `max_side` long,
    converted a strip of rows at a time so that no full-size copy is made in any mode."""
    width, height = image.size
    factor = max(1, max(width, height) // max_side) if max_side else 1
    rows = max(1, _STRIP_PIXELS // (width * factor)) * factor  # a whole number of boxes per strip
    top = _grey_top(image)
    reduced = np.empty((-(-height // factor), -(-width // factor), 3), np.uint8)
    for y in range(0, height, rows):
        strip = to_rgb_array(image.crop((0, y, width, min(height, y + rows))), top)
        if factor > 1:
            strip = np.asarray(Image.fromarray(strip).reduce(factor))
        reduced[y // factor : y // factor + strip.shape[0]] = strip
    return reduced


def _grey_top(image: Image.Image) -> int:
    """The white of a 16-bit or 32-bit grey image: 65535 when any value is above 255 (read without a copy)."""
    if image.mode not in _GREY_MODES:
        return 255
    _low, high = image.getextrema()
    return 65535 if high > 255 else 255


def to_rgb_array(image: Image.Image, grey_top: int | None = None) -> np.ndarray:
    """Any Pillow mode as (H, W, 3) uint8 RGB; 16-bit and 32-bit grey are scaled so that `grey_top` (by default
    65535 when a value is above 255, else 255) is white."""
    mode = image.mode
    if mode in _GREY_MODES:
        top = grey_top or _grey_top(image)
        values = np.asarray(image)
        if values.dtype.kind == "f":
            grey = np.clip(values.astype(np.float32) / top * 255.0, 0, 255).astype(np.uint8)
        else:  # integer arithmetic: floor(v * 255 / top), as the float division would give
            grey = (np.clip(values, 0, top).astype(np.uint32) * 255 // top).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def _working_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    factor = max_side / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
