"""The judged evaluation (issue 17): fixed, varied held-out sets; rendering through the pipeline; a whole
report from real components on a tiny UTKFace-style folder."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aging_model.data import LabelledFace, index_folder, is_validation, split_faces
from aging_model.evaluation.held_out import DETAIL_SIZE
from aging_model.evaluation.judged import (
    ADULTS,
    CHILDREN,
    OWN_AGE,
    ChipPhoto,
    choose_faces,
    evaluate_judges,
    render_as_served,
)
from aging_model.evaluation.judged_sampling import matched_real_faces, sheet_order, stratified_choice
from aging_model.prototypes.aging import AGING_PADDING
from preprocessing.alignment import align_face


def _face(age, gender, race):
    return LabelledFace(path=None, age=age, gender=gender, race=race)


def test_the_round_robin_covers_every_gender_and_race_first_and_is_seeded():
    faces = [_face(30, g, r) for g in (0, 1) for r in range(5) for _ in range(6)]
    chosen = stratified_choice(faces, 10, seed=3)
    assert {(f.gender, f.race) for f in chosen} == {(g, r) for g in (0, 1) for r in range(5)}
    assert stratified_choice(faces, 10, seed=3) == chosen and len(stratified_choice(faces, 100)) == len(faces)


def test_the_model_card_links_to_a_report_under_docs_from_docs(tmp_path):
    from aging_model.evaluation.judged_report import link_from_docs

    assert link_from_docs(tmp_path / "docs" / "model-card" / "judges" / "report.md") == "model-card/judges/report.md"
    assert link_from_docs(tmp_path / "runs" / "report.md") == str(tmp_path / "runs" / "report.md")


def test_the_sheet_shows_the_preferred_faces_first_and_then_the_rest():
    assert sheet_order(["a", "b", "c", "d"], preferred=("c", "x", "a")) == [2, 0, 1, 3]


def test_real_faces_are_matched_by_age_and_gender_without_repeats():
    labels = [(30, 0), (30, 1), (30, 1), (41, 0)]
    pool = [LabelledFace(path=str(i), age=a, gender=g, race=0) for i, (a, g) in enumerate(labels)]
    like = [_face(30, 1, 0), _face(30, 1, 0), _face(30, 1, 0), _face(41, 1, 0), _face(55, 0, 0)]
    chosen = matched_real_faces(like, pool)
    assert [f.age for f in chosen] == [30, 30, 30, 41]
    assert [f.gender for f in chosen[:2]] == [1, 1] and len({f.path for f in chosen}) == 4


@pytest.fixture(scope="module")
def pipeline(detector):
    from aging_model.caae.config import ModelConfig
    from aging_model.caae.inference import AgingModel
    from aging_model.caae.networks import Encoder, Generator
    from aging_model.estimator.age_gender import AgeGenderEstimator
    from aging_model.pipeline import AgingPipeline

    torch.manual_seed(0)
    config = ModelConfig(resolution=32, width=8)  # an untrained CAAE: the prototype renderer does not need it
    model = AgingModel(Encoder(config), Generator(config), config, {}, torch.device("cpu"))
    return AgingPipeline(model, detector, estimator=AgeGenderEstimator.load(device="cpu"))


def test_rendering_through_the_pipeline_ages_the_face_and_keeps_it_at_its_own_age(pipeline, astronaut, detector):
    aligned = align_face(astronaut, detector.detect(astronaut)[0].landmarks, DETAIL_SIZE, AGING_PADDING)
    photo = ChipPhoto(astronaut, aligned.matrix, aligned.pixels)  # a whole photo, as `faceage age` gets one
    served = render_as_served(pipeline, [photo], [5, 80], own_age=True)
    size = aligned.pixels.shape[0]
    assert served["served"].shape == (1, 3, size, size, 3)
    differences = [np.abs(frame.astype(np.int16) - aligned.pixels).mean() for frame in served["served"][0]]
    assert differences[2] < 1.0 < min(differences[:2])  # at her own age nothing changes; at 5 and 80 she does
    assert 20 < served["estimated_age"][0] < 50
    box = photo.photo_box()
    assert box == (0, size, 0, size)  # her photo reaches beyond the margin on every side


def test_a_face_moved_in_its_photo_is_read_in_its_own_frame_when_realigned(astronaut, detector):
    """A renderer that moves or grows the face shifts it in the input's frame, and the readers would see the shift;
    realigned, the face is found again and framed as real faces are: where it was, whatever moved."""
    aligned = align_face(astronaut, detector.detect(astronaut)[0].landmarks, DETAIL_SIZE, AGING_PADDING)
    photo = ChipPhoto(astronaut, aligned.matrix, aligned.pixels)
    moved = np.roll(astronaut, (30, 20), axis=(0, 1))  # the same photo, the face 30 px lower and 20 to the right

    def gap(frame: np.ndarray) -> float:
        return float(np.abs(frame.astype(np.int16) - aligned.pixels).mean())

    assert gap(photo.frame(moved)) > 20  # the input's frame: the face has left its place
    assert gap(photo.frame(moved, detector)) < 0.1 * gap(photo.frame(moved))  # found again: 2.6 against 66


def _name(age, gender, race, validation: bool, start: int) -> str:
    """A UTKFace file name with these labels that falls in the wanted split."""
    for stamp in range(start, start + 100000):
        name = f"{age}_{gender}_{race}_20170101{stamp:09d}.jpg.chip.jpg"
        if is_validation(name) == validation:
            return name
    raise AssertionError("no name found")


@pytest.fixture(scope="module")
def judged_utkface(tmp_path_factory, astronaut, detector):
    """A UTKFace-style folder of real face chips (the astronaut, varied): held-out adults and children, held-out
    faces of some target ages, and training-split faces of the same ages."""
    folder = tmp_path_factory.mktemp("judged_utkface")
    chip = align_face(astronaut, detector.detect(astronaut)[0].landmarks, 200).pixels
    rng = np.random.default_rng(0)
    labels = [(30, 0, 0, True), (45, 1, 1, True), (52, 0, 2, True)]  # held-out adults
    labels += [(3, 1, 0, True), (5, 0, 3, True), (6, 1, 4, True)]  # held-out children
    labels += [(3, 0, 0, True), (25, 1, 0, True)]  # held-out faces of target ages (with the child of 3; no 8)
    labels += [(a, g, 0, False) for a, g in [(3, 0), (8, 1), (75, 0), (45, 1), (30, 0), (45, 1), (5, 0)]]
    for i, (age, gender, race, validation) in enumerate(labels):
        varied = np.clip(chip.astype(np.float32) * rng.uniform(0.8, 1.15) + rng.normal(0, 3, chip.shape), 0, 255)
        name = _name(age, gender, race, validation, start=1000 * i)
        Image.fromarray(varied.astype(np.uint8)).save(folder / name)
    return folder


def test_a_whole_judged_report_from_real_components(pipeline, judged_utkface, tmp_path):
    from aging_model.evaluation.age_judge import AgeJudge
    from aging_model.evaluation.judged_report import write_judged_report

    metrics, arrays = evaluate_judges(
        pipeline, AgeJudge.load(), judged_utkface, tmp_path / "cache", adults=3, children=3
    )
    assert metrics["renderer"] == "prototypes" and len(metrics["sets"]["adults"]["faces"]) == 3
    assert [r["target"] for r in metrics["readings"]] == [*ADULTS.targets, *CHILDREN.targets]
    at_3 = metrics["readings"][0]
    assert at_3["real"]["faces"] == 2 and at_3["gap"]["judge"] is not None and isinstance(at_3["met"]["judge"], bool)
    at_8 = metrics["readings"][1]
    assert at_8["real"]["faces"] == 0 and at_8["met"]["estimator"] is None  # no real faces: no verdict
    floors = [r for r in metrics["realism"] if r["target"] == OWN_AGE]
    assert len(floors) == 2 and floors[0]["accuracy"] is None  # three faces are too few for five folds
    head = metrics["sets"]["adults"]["head"]["80"]
    assert head["faces"] == 3 and head["skin_lightness_change"] is not None
    assert head["faces_with_neck_in_view"] == 0 and head["face_minus_neck_mean_abs_change"] is None  # chin-tight chips
    assert metrics["goals"]["adults at 80: face against neck changes by <= 6 L (mean |change|)"] is None
    proportions = {(r["set"], r["target"]): r for r in metrics["proportions"]}
    assert set(proportions) == {("adults", t) for t in ADULTS.targets} | {("children", t) for t in CHILDREN.targets}
    nose = proportions[("adults", 3)]["nose"]
    assert 0.4 < nose["aged"] < 1.0 and 0.4 < nose["real"] < 1.0 and nose["ratio"] is not None
    assert proportions[("adults", 8)]["nose"]["real"] is None  # no real faces of 7-9 in this folder
    assert arrays["adults"]["aged"].shape == (3, len(ADULTS.render_ages()) + 1, DETAIL_SIZE, DETAIL_SIZE, 3)
    assert (tmp_path / "cache" / f"judge-real-descriptors-{DETAIL_SIZE}.npz").is_file()

    report = write_judged_report(metrics, arrays, tmp_path / "report", "faceage evaluate --judges-only")
    for name in ("metrics.json", "model-card-section.md", "judged-adults.png", "judged-children.png"):
        assert (tmp_path / "report" / name).is_file()
    text = report.read_text()
    assert "| adults | 3 |" in text and "own age (floor)" in text and "| children | 80 |" in text
    assert "Proportions: aged faces against real faces" in text
    stored = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert stored["judges"]["sets"]["children"]["faces"] == metrics["sets"]["children"]["faces"]

    train, val = split_faces(index_folder(judged_utkface).faces)
    again = choose_faces(train, val, ADULTS, 3, real_per_target=64, seed=0)
    assert [f.path.name for f in again.faces] == metrics["sets"]["adults"]["faces"]  # the same inputs every run


def test_faceage_evaluate_writes_the_ten_groups_and_the_judges_into_one_report(judged_utkface, tmp_path):
    from click.testing import CliRunner

    from faceage_cli import main

    out = tmp_path / "evaluation"
    arguments = ["evaluate", "--data", str(judged_utkface), "--limit", "2", "--adults", "5", "--children", "5"]
    result = CliRunner().invoke(main, [*arguments, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "adults aimed at 3: estimator" in result.output and "judged goals met" in result.output
    report = (out / "report.md").read_text()
    assert "## Per age group" in report and "## Honest judges (issue 17)" in report
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["faces"] == 2 and len(stored["judges"]["sets"]["adults"]["faces"]) == 4  # all it has
    assert (out / "judged-adults.png").is_file() and (out / "model-card-section.md").is_file()
