import io

import numpy as np
import pytest
from PIL import Image

from aging_model.caae.inference import AgingModel
from aging_model.pipeline import AgingPipeline
from preprocessing.errors import NoUsableFace


@pytest.fixture(scope="module")
def pipeline(detector):
    return AgingPipeline(AgingModel.load(device="cpu"), detector=detector)


def _jpeg(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_a_photo_with_one_face_is_aged_to_every_requested_age(pipeline, astronaut_jpeg):
    result = pipeline.run(astronaut_jpeg, ages=[5, 40, 80], gender="female")
    [face] = result.faces
    assert face.quality.usable
    assert face.generated.shape == (3, 64, 64, 3)
    assert face.aged.shape[0] == 3 and face.aged.shape[1:] == face.detail.shape
    assert face.own_age_group is not None
    assert len(result.composites) == 3
    assert set(result.timings) == {"load", "detect", "align", "age", "paste"}


def test_with_the_estimator_the_face_is_read_and_its_own_gender_conditions_the_generator(detector, astronaut_jpeg):
    from aging_model.estimator.age_gender import AgeGenderEstimator

    pipeline = AgingPipeline(
        AgingModel.load(device="cpu"), detector=detector, estimator=AgeGenderEstimator.load(device="cpu")
    )
    [face] = pipeline.run(astronaut_jpeg, ages=[20, 60], gender="auto").faces
    assert 25 <= face.estimated_age <= 50 and face.female_probability > 0.5
    assert face.gender_condition == face.female_probability
    assert face.own_age_group in (4, 5, 6)  # 21-30, 31-40 or 41-50
    [male] = pipeline.run(astronaut_jpeg, ages=[20], gender="male").faces
    assert male.gender_condition == 0.0


def test_an_unknown_gender_choice_is_refused(pipeline, astronaut_jpeg):
    with pytest.raises(ValueError, match="gender"):
        pipeline.run(astronaut_jpeg, gender="other")


def test_composites_change_the_face_and_keep_the_rest_of_the_photo(pipeline, astronaut_jpeg):
    result = pipeline.run(astronaut_jpeg, ages=[80])
    composite, original = result.composites[0].astype(int), result.photo.pixels.astype(int)
    x1, y1, x2, y2 = result.faces[0].box.astype(int)
    assert np.abs(composite[y1:y2, x1:x2] - original[y1:y2, x1:x2]).mean() > 3
    assert np.array_equal(composite[400:, :150], original[400:, :150])


def test_every_face_of_a_group_photo_is_aged_together(pipeline, astronaut):
    group = np.concatenate([astronaut[:, 100:400], astronaut[:, 100:400]], axis=1)
    result = pipeline.run(_jpeg(group), ages=[60])
    assert len(result.aged_faces) == 2
    left, right = result.composites[0][:, :300].astype(int), result.composites[0][:, 300:].astype(int)
    assert np.abs(left - group[:, :300]).mean() > 0.5 and np.abs(right - group[:, 300:]).mean() > 0.5


def test_a_photo_without_a_face_gives_a_reason(pipeline):
    landscape = np.full((300, 400, 3), 120, np.uint8)
    with pytest.raises(NoUsableFace, match="no face found"):
        pipeline.run(_jpeg(landscape))


def test_a_blurred_face_is_aged_with_a_warning(pipeline, astronaut):
    import cv2

    result = pipeline.run(_jpeg(cv2.GaussianBlur(astronaut, (0, 0), 3)), ages=[60])
    [face] = result.faces
    assert face.aged is not None and "blurred" in face.quality.warnings


def test_a_face_too_small_to_age_is_refused_with_its_reason(pipeline, astronaut):
    import cv2

    tiny = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # her face is about 22 px
    with pytest.raises(NoUsableFace, match=r"face_too_small\); try a larger photo or one taken closer"):
        pipeline.run(_jpeg(tiny))


def test_every_small_face_of_a_group_photo_is_aged(pipeline, group_photo):
    pixels, centres = group_photo([34, 36, 32, 35, 34, 33])
    result = pipeline.run(_jpeg(pixels), ages=[70])
    assert len(result.aged_faces) == 6
    for x, y in centres:  # each face changed in the composite
        x, y = round(x), round(y)
        patch = (slice(y - 10, y + 10), slice(x - 10, x + 10))
        assert np.abs(result.composites[0][patch].astype(int) - result.photo.pixels[patch].astype(int)).mean() > 1
    assert not any("blurred" in face.quality.warnings for face in result.aged_faces)


def test_a_face_too_small_to_age_is_left_out_with_its_reason_in_the_result(pipeline, group_photo):
    from aging_model.outputs import render_photo_result

    pixels, _ = group_photo([34, 20, 36])
    result = pipeline.run(_jpeg(pixels), ages=[70])
    document, _ = render_photo_result(result, "group.jpg", model_card={})
    aged, aged_too, small = document["faces"]  # largest first
    assert aged["aged"] and aged_too["aged"] and "left_out" not in aged
    assert not small["aged"] and small["quality"]["reasons"] == ["face_too_small"]
    [reason] = small["left_out"]
    assert reason["code"] == "face_too_small" and "faces of at least 28 px are aged" in reason["message"]


def test_faces_beyond_the_limit_are_left_out_with_their_reason(detector, group_photo):
    from aging_model.pipeline import PipelineSettings

    pipeline = AgingPipeline(AgingModel.load(device="cpu"), detector=detector, settings=PipelineSettings(max_faces=2))
    result = pipeline.run(_jpeg(group_photo([34, 45, 36])[0]), ages=[70])
    assert [face.quality.usable for face in result.faces] == [True, True, True]
    assert [face.aged is not None for face in result.faces] == [True, True, False]
    assert list(result.faces[2].left_out) == ["too_many_faces"]


@pytest.mark.parametrize("height, width", [(1, 1), (31, 31), (20, 2000)])
def test_an_image_too_small_for_a_face_has_no_usable_face(pipeline, height, width):
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(buffer, "PNG")
    with pytest.raises(NoUsableFace, match="no face found"):
        pipeline.run(buffer.getvalue())


def test_the_caae_renderer_is_still_available(detector, astronaut_jpeg):
    from aging_model.pipeline import PipelineSettings

    pipeline = AgingPipeline(
        AgingModel.load(device="cpu"), detector=detector, settings=PipelineSettings(renderer="caae")
    )
    assert pipeline.renderer.name == "caae" and pipeline.landmarker is None  # no prototypes loaded
    [face] = pipeline.run(astronaut_jpeg, ages=[5, 80]).faces
    assert face.aged.shape[0] == 2 and face.aged.shape[1:] == face.detail.shape


def test_an_unknown_renderer_is_refused(detector):
    from aging_model.pipeline import PipelineSettings

    with pytest.raises(ValueError, match="renderer"):
        AgingPipeline(AgingModel.load(device="cpu"), detector=detector, settings=PipelineSettings(renderer="magic"))


def test_several_photos_are_aged_in_one_call_each_with_its_own_ages_and_outcome(detector, astronaut_jpeg):
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.pipeline import PhotoRequest

    model = AgingModel.load(device="cpu")
    calls = []
    original = model.age_faces
    model.age_faces = lambda crops, ages, genders: calls.append(len(crops)) or original(crops, ages, genders)
    pipeline = AgingPipeline(model, detector=detector, estimator=AgeGenderEstimator.load(device="cpu"))
    landscape = _jpeg(np.full((300, 400, 3), 120, np.uint8))
    requests = [
        PhotoRequest(astronaut_jpeg, (20, 60), "male"),
        PhotoRequest(landscape),
        PhotoRequest(astronaut_jpeg, (40, 80), "male"),
    ]

    first, missing, second = pipeline.run_many(requests)

    assert calls == [2]  # both astronauts' faces in one model call
    assert isinstance(missing, NoUsableFace) and "no face found" in missing.message
    assert first.ages == [20.0, 60.0] and second.ages == [40.0, 80.0]
    assert first.photos_aged_together == 2
    alone = pipeline.run(astronaut_jpeg, ages=[40, 80], gender="male")
    batched, single = second.faces[0].generated.astype(int), alone.faces[0].generated.astype(int)
    assert np.abs(batched - single).max() <= 2  # batching changes nothing but float rounding


def test_each_faces_own_images_show_the_hair_the_whole_photo_shows(pipeline, astronaut_jpeg):
    """At 80 the astronaut's hair greys in the photo; her face's own crop at 80 (its files, strip and film) must
    show the same grey hair, not the dark hair of the crop the renderer made."""
    import cv2

    from preprocessing.compositing import face_mask

    result = pipeline.run(astronaut_jpeg, ages=[40, 80])
    [face] = result.aged_faces
    size = face.aged.shape[1]
    seen = cv2.warpAffine(result.composites[1], face.matrix, (size, size), flags=cv2.INTER_LINEAR)
    around = face_mask(size) < 0.01
    around[: size // 20] = around[-size // 20 :] = False  # away from the crop's border
    assert np.abs(face.aged[1][around].astype(int) - seen[around].astype(int)).mean() < 3
    upper = around.copy()
    upper[size // 2 :] = False  # beside and above the forehead: her brown hair, greyer at 80 than at 40

    def colourfulness(image):
        pixels = image[upper].astype(int)
        return (pixels.max(axis=1) - pixels.min(axis=1)).mean()

    assert colourfulness(face.aged[1]) < colourfulness(face.aged[0]) - 5


def test_a_face_made_a_child_shows_whole_below_its_eyes_not_half_blended_with_the_photo(pipeline, astronaut_jpeg):
    """Made 3, her chin rises and her jaw narrows. Where the elliptical paste mask faded, the photo's own lower jaw
    and collar showed through half blended (a second jawline under the new chin, a pale wedge beside it); pasted
    with the renderer's margin, what the photo shows around the chin is the aged face itself."""
    import cv2

    from aging_model import pipeline as pipeline_module

    result = pipeline.run(astronaut_jpeg, ages=[3])
    [face] = result.aged_faces
    [rendered] = pipeline.renderer.render(face, [3.0], face.own_age, face.generated, None)
    size, inner = rendered.shape[0], face.aged.shape[1]
    margin = (size - inner) // 2
    matrix = face.matrix + np.array([[0, 0, margin], [0, 0, margin]], np.float64)

    def at(share: float) -> int:  # chip units to the crop's pixels
        return margin + round(share * inner)

    chin = np.s_[at(0.8) : at(1.05), at(0.1) : at(0.9)]  # the chin, the jaw's lower corners and under them

    def difference(composite: np.ndarray) -> float:
        seen = cv2.warpAffine(composite, matrix, (size, size), flags=cv2.INTER_LINEAR).astype(int)
        return float(np.abs(seen[chin] - rendered[chin].astype(int)).mean())

    through_the_ellipse = pipeline_module.paste_faces(
        result.photo.pixels, [pipeline_module.FacePatch(face.aged[0], face.matrix)]
    )
    # Measured: 0.7 grey levels (resampling alone) with the margin, 16.5 through the ellipse alone.
    assert difference(result.composites[0]) < 2.0
    assert difference(through_the_ellipse) > 8.0


def test_a_forehead_cut_off_by_the_frame_is_mirrored_into_the_margin_not_repeated_into_streaks(pipeline, astronaut):
    # Her photo cut just above her brows: the renderer's margin above the face lies beyond the photo's edge, and a
    # child's face grown against its skull pulls some of it into view.
    cut = np.ascontiguousarray(astronaut[95:, :])
    [face] = pipeline.run(_jpeg(cut), ages=[40]).faces
    pad = (face.padded_detail.shape[0] - face.detail.shape[0]) // 2
    margin = face.padded_detail[:pad].astype(np.float32).mean(axis=2)
    # The edge's pixels repeated are the same on every row of the margin: vertical streaks.
    assert margin.std(axis=0).mean() > 3.0
