"""Loading any photo a person may send: formats, modes, orientation, damage, and size limits."""

import io

import numpy as np
import pytest
from image_files import png_header_only
from PIL import Image

from preprocessing.errors import ImageTooLarge, NotAnImage, PhotoError, TruncatedImage
from preprocessing.loading import load_photo


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_a_jpeg_decodes_to_rgb_pixels(astronaut_jpeg):
    photo = load_photo(astronaut_jpeg)
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.uint8
    assert photo.format == "JPEG" and photo.original_size == (512, 512) and photo.scale == 1.0


def test_exif_orientation_is_applied(astronaut):
    # A phone stores the sensor's landscape pixels and says "rotate 90 degrees clockwise" (orientation 6).
    wide = Image.fromarray(astronaut[:256])  # 512 wide, 256 high
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = load_photo(_encode(wide, "JPEG", exif=exif.tobytes(), quality=95))
    assert photo.pixels.shape == (512, 256, 3)
    assert photo.original_size == (256, 512)
    upright = np.rot90(astronaut[:256], k=-1)  # the stored pixels turned 90 degrees clockwise
    assert np.abs(photo.pixels.astype(int) - upright.astype(int)).mean() < 4


def test_transparency_is_flattened_on_white():
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[:, :30] = (200, 20, 20, 255)  # opaque red on the left, fully transparent on the right
    photo = load_photo(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(photo.pixels[5, 5]) == (200, 20, 20)
    assert tuple(photo.pixels[5, 50]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "1"])
def test_every_common_mode_becomes_8_bit_rgb(astronaut, mode):
    image = Image.fromarray(astronaut)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)  # 16-bit grayscale
    else:
        image = image.convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    photo = load_photo(_encode(image, fmt))
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.uint8
    assert 40 < photo.pixels.mean() < 200  # neither black nor white: the values were scaled, not clipped


def test_sixteen_bit_values_are_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16)[None, :].repeat(8, axis=0)
    photo = load_photo(_encode(Image.fromarray(ramp), "PNG"))
    assert photo.pixels[0, 0, 0] == 0 and photo.pixels[0, -1, 0] == 255 and 120 < photo.pixels[0, 128, 0] < 135


def _big_png(mode: str, side: int) -> bytes:
    colours = {"I;16": 40_000, "RGBA": (200, 120, 80, 128), "RGB": (200, 120, 80), "P": 3}
    image = Image.new(mode, (side, side), colours[mode])
    if mode == "P":
        image.putpalette([v for i in range(256) for v in (i, 255 - i, 128)])
        return _encode(image, "PNG", transparency=3)
    return _encode(image, "PNG")


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P", "RGB"])
def test_converting_a_large_image_of_any_mode_makes_no_full_size_copy(mode):
    # A 25 MP PNG of one colour is a file of tens of KB. Pillow's own decoded pixels are outside Python's
    # allocator; what tracemalloc sees is what the conversion to 8-bit RGB adds, and that must stay well
    # under one full-size 8-bit RGB copy (75 MB), let alone a float64 one (200 MB each).
    import tracemalloc

    content = _big_png(mode, 5000)
    tracemalloc.start()
    try:
        photo = load_photo(content)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert photo.pixels.shape == (2048, 2048, 3) and photo.original_size == (5000, 5000)
    assert peak < 40e6, f"converting took {peak / 1e6:.0f} MB"


def test_a_large_image_is_turned_upright_after_it_is_reduced():
    wide = np.zeros((2500, 5000), np.uint16)
    wide[:, :100] = 65535  # a white band on the stored left edge: upright (orientation 6), it is at the top
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = load_photo(_encode(Image.fromarray(wide), "PNG", exif=exif.tobytes()))
    assert photo.pixels.shape == (2048, 1024, 3) and photo.original_size == (2500, 5000)
    assert photo.pixels[:30].min() > 200 and photo.pixels[60:].max() < 10


def test_heic_from_phones_is_read(astronaut):
    photo = load_photo(_encode(Image.fromarray(astronaut), "HEIF", quality=90))
    assert photo.pixels.shape == (512, 512, 3)
    assert np.abs(photo.pixels.astype(int) - astronaut.astype(int)).mean() < 8


def test_webp_is_read(astronaut):
    assert load_photo(_encode(Image.fromarray(astronaut), "WEBP")).pixels.shape == (512, 512, 3)


@pytest.mark.parametrize("content", [b"", b"hello, this is text", b"%PDF-1.4\n%\xe2\xe3", b"\x89PNG\r\n\x1a\n"])
def test_something_that_is_not_an_image_is_refused(content):
    with pytest.raises(NotAnImage, match="not an image"):
        load_photo(content)


def test_a_truncated_jpeg_is_named_as_such(astronaut_jpeg):
    with pytest.raises(TruncatedImage, match="truncated"):
        load_photo(astronaut_jpeg[: len(astronaut_jpeg) // 2])


@pytest.mark.parametrize("side", [12_000, 100_000])  # 144 MP: over our limit; 10 GP: over Pillow's own
def test_a_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(ImageTooLarge):
        load_photo(png_header_only(side, side))


def test_a_png_that_would_decode_whole_beyond_the_decoding_limit_is_refused_from_its_header():
    # 119.9 MP: under the declared-size limit, but a PNG cannot be decoded at a reduced scale.
    with pytest.raises(ImageTooLarge, match="decoded whole"):
        load_photo(png_header_only(10_950, 10_950))


def test_a_jpeg_over_the_decoding_limit_is_decoded_at_a_reduced_scale(astronaut):
    big = io.BytesIO()
    Image.fromarray(astronaut).resize((6000, 6000)).save(big, "JPEG", quality=80)  # 36 MP, decoded at 1/2: 9 MP
    photo = load_photo(big.getvalue(), max_decoded_pixels=10_000_000)
    assert max(photo.pixels.shape[:2]) <= 2048 and photo.original_size == (6000, 6000)
    with pytest.raises(ImageTooLarge, match="decoded whole"):
        load_photo(big.getvalue(), max_side=None, max_decoded_pixels=10_000_000)


def test_the_pixel_limit_is_configurable(astronaut_jpeg):
    with pytest.raises(ImageTooLarge, match="megapixels"):
        load_photo(astronaut_jpeg, max_pixels=100_000)


def test_a_large_jpeg_is_decoded_reduced(astronaut):
    big = np.asarray(Image.fromarray(astronaut).resize((6000, 4000)))
    photo = load_photo(_encode(Image.fromarray(big), "JPEG", quality=80))
    assert max(photo.pixels.shape[:2]) == 2048
    assert photo.original_size == (6000, 4000)
    assert photo.scale == pytest.approx(2048 / 6000, rel=1e-3)


def test_a_12_megapixel_jpeg_decodes_at_half_scale_just_under_the_working_size(astronaut):
    phone = Image.fromarray(astronaut).resize((4000, 3000))
    photo = load_photo(_encode(phone, "JPEG", quality=80))
    assert photo.pixels.shape == (1500, 2000, 3) and photo.original_size == (4000, 3000)


def test_full_size_is_kept_when_asked(astronaut):
    wide = Image.fromarray(astronaut).resize((2600, 1300))
    assert load_photo(_encode(wide, "PNG"), max_side=None).pixels.shape == (1300, 2600, 3)


def test_metadata_does_not_survive_loading(astronaut):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    photo = load_photo(_encode(Image.fromarray(astronaut), "JPEG", exif=exif.tobytes()))
    assert isinstance(photo.pixels, np.ndarray)  # only pixels come out; nothing else of the file


def test_a_missing_file_and_a_folder_are_named(tmp_path):
    with pytest.raises(PhotoError, match="not found"):
        load_photo(tmp_path / "nowhere.jpg")
    with pytest.raises(PhotoError, match="folder"):
        load_photo(tmp_path)


@pytest.mark.parametrize("size", [(7000, 5000), (5000, 7000), (4999, 3001), (20_000, 40)])
def test_the_working_size_follows_from_the_photos_own_size(size):
    # Reduced first by a whole factor, then to the working size: the result is as large as reducing at once.
    width, height = size
    photo = load_photo(_encode(Image.new("L", size, 128), "PNG"))
    factor = 2048 / max(width, height)
    assert photo.pixels.shape[:2] == (max(1, round(height * factor)), max(1, round(width * factor)))
