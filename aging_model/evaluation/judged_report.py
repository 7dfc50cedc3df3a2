"""The judged evaluation as files: a markdown section (of report.md, and one to paste into the model card),
its numbers in metrics.json, and sample sheets whose faces carry both readers' readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import ImageDraw, ImageFont

from aging_model.evaluation.judged import FACE_NECK_GOAL, HEAD_MEASURE_AGE, OWN_AGE, SHEET_FACES
from aging_model.evaluation.proportions import PROPORTIONS
from aging_model.media.sheets import LABEL_HEIGHT, face_grid

SHEET_CELL = 160
_GAP = 2  # face_grid's gap


def write_judged_report(metrics: dict, arrays: dict, out: Path, command: str) -> Path:
    """report.md (the judged section alone), metrics.json ({"judges": ...}), model-card-section.md and the
    sheets, in `out`; returns report.md."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps({"command": command, "judges": metrics}, indent=2) + "\n")
    write_sheets(arrays, out)
    report = out / "report.md"
    (out / "model-card-section.md").write_text(model_card_section(metrics, command, link_from_docs(report)))
    report.write_text(judged_markdown(metrics, heading="#"))
    return report


def write_sheets(arrays: dict, out: Path) -> list[Path]:
    """judged-adults.png and judged-children.png: faces of each set in their sheet order (see `sheet_order`;
    the most varied come first) at the targets, each face with its readings (E: estimator, J: judge)."""
    paths = []
    for name, judged in arrays.items():
        columns = [c for c in judged["columns"] if c != OWN_AGE and c in judged["targets"]]
        indices = [judged["columns"].index(c) for c in columns]
        count = min(SHEET_FACES.get(name, 8), len(judged["inputs"]))
        rows, captions = [], []
        for i in judged.get("sheet_order", range(count))[:count]:
            rows.append([judged["inputs"][i], *[judged["aged"][i, c] for c in indices]])
            reads, aged = judged["input_readings"], judged["readings"]
            captions.append(
                [f"{judged['labels'][i]:.0f}: E {reads['estimator'][i]:.0f} J {reads['judge'][i]:.0f}"]
                + [f"E {aged['estimator'][i, c]:.0f} J {aged['judge'][i, c]:.0f}" for c in indices]
            )
        sheet = face_grid(rows, ["input (label: readings)", *[f"aimed at {c}" for c in columns]], cell=SHEET_CELL)
        _caption(sheet, captions)
        path = out / f"judged-{name}.png"
        sheet.save(path)
        paths.append(path)
    return paths


def _caption(sheet, captions: list[list[str]]) -> None:
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for r, row in enumerate(captions):
        for c, text in enumerate(row):
            x = _GAP + c * (SHEET_CELL + _GAP)
            y = LABEL_HEIGHT + _GAP + r * (SHEET_CELL + _GAP) + SHEET_CELL - 17
            draw.rectangle((x, y, x + SHEET_CELL - 1, y + 16), fill=(0, 0, 0))
            draw.text((x + 3, y + 1), text, fill=(255, 255, 255), font=font)


def _f(value, digits: int = 1, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _tick(passed) -> str:
    return "–" if passed is None else ("✅" if passed else "❌")


def readings_table(metrics: dict) -> list[str]:
    lines = [
        "| set | aimed at | estimator: aged / real (gap) | judge: aged / real (gap) | real held-out faces | goal |",
        "|---|---|---|---|---|---|",
    ]
    for row in metrics["readings"]:
        cells = []
        for reader in ("estimator", "judge"):
            aged, real = row["aged"][reader]["mean"], row["real"][reader]["mean"]
            cells.append(f"{_f(aged)} / {_f(real)} ({_f(row['gap'][reader], signed=True)}) {_tick(row['met'][reader])}")
        window = row["real"]["window"]
        lines.append(
            f"| {row['set']} | {row['target']} | {cells[0]} | {cells[1]} | {row['real']['faces']} aged "
            f"{window[0]}-{window[1]} | within {row['within_years']:g} years |"
        )
    return lines


def realism_table(metrics: dict) -> list[str]:
    lines = [
        "| set | aimed at | accuracy, all features | descriptor | bands | colour | aged / real faces |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in metrics["realism"]:
        target = "own age (floor)" if row["target"] == OWN_AGE else row["target"]
        by = row["by_features"]
        lines.append(
            f"| {row['set']} | {target} | **{_f(row['accuracy'], 2)}** | {_f(by.get('descriptor'), 2)} | "
            f"{_f(by.get('bands'), 2)} | {_f(by.get('colour'), 2)} | {row['aged_faces']} / {row['real_faces']} |"
        )
    return lines


def head_table(metrics: dict, only_at: int | None = None) -> list[str]:
    lines = [
        "| set | aimed at | face − neck L: change (mean, mean abs, share over 6) | skin ΔL | skin Δchroma | "
        "hair ΔL | hair Δchroma | faces with neck / hair in view |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, judged in metrics["sets"].items():
        for target, h in judged["head"].items():
            if only_at is not None and target != str(only_at):
                continue
            share = h["face_minus_neck_share_over_goal"]
            lines.append(
                f"| {name} | {target} | {_f(h['face_minus_neck_change'], signed=True)}, "
                f"{_f(h['face_minus_neck_mean_abs_change'])}, {_f(None if share is None else 100 * share, 0)} % | "
                f"{_f(h['skin_lightness_change'], signed=True)} | {_f(h['skin_chroma_change'], signed=True)} | "
                f"{_f(h['hair_lightness_change'], signed=True)} | {_f(h['hair_chroma_change'], signed=True)} | "
                f"{h['faces_with_neck_in_view']} / {h['faces_with_hair_in_view']} of {h['faces']} |"
            )
    return lines


def proportions_table(metrics: dict) -> list[str]:
    lines = [
        "| set | aimed at | nose: aged / real | lower face | inner brows | eye opening | aged / real faces |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in metrics.get("proportions", []):
        cells = [f"{_f(row[p]['aged'], 2)} / {_f(row[p]['real'], 2)}" for p in PROPORTIONS]
        lines.append(
            f"| {row['set']} | {row['target']} | {' | '.join(cells)} | {row['aged_faces']} / {row['real_faces']} |"
        )
    return lines


def _beyond_share(metrics: dict) -> float | None:
    shares = [
        h.get("hair_patch_beyond_photo_share")
        for judged in metrics["sets"].values()
        for h in judged["head"].values()
        if h.get("hair_patch_beyond_photo_share") is not None
    ]
    return 100 * float(np.mean(shares)) if shares else None


def _sets_line(metrics: dict) -> list[str]:
    lines = []
    for name, judged in metrics["sets"].items():
        read, mae = judged["input_read_as"], judged["input_mae"]
        lines.append(
            f"- {len(judged['faces'])} held-out {name} (labelled {_f(judged['label_age']['mean'])} on average) "
            f"read {_f(read['estimator']['mean'])} to the estimator (MAE {_f(mae['estimator'])}) and "
            f"{_f(read['judge']['mean'])} to the judge (MAE {_f(mae['judge'])}) as they are."
        )
    return lines


def judged_markdown(metrics: dict, heading: str = "##") -> str:
    """The judged evaluation as a markdown section (issue 17)."""
    judge = metrics.get("judge", {})
    lines = [
        f"{heading} Honest judges (issue 17): renderer `{metrics['renderer']}`",
        "",
        "Held-out faces (validation split, drawn by a seeded round robin over gender and race), each chip aged as",
        "a photo by the pipeline's own aging and compositing (192 px crops with the aging margin), as served, and",
        "seen again through the face's alignment. Two readers: the shipped",
        "estimator (64 px VGG on the product's chip; the renderer was tuned against it) and the **age judge**",
        "(dlib's face-recognition ResNet on dlib's own 150 px chip, with a small head trained on the training",
        f"split; validation MAE {_f(judge.get('validation_mae'))} years; never used to make a face). Real faces:",
        "held-out faces whose labelled age lies in the window, read by the same reader.",
        "",
        *_sets_line(metrics),
        "",
        f"{heading}# Readings: aged faces against real faces of the target age",
        "",
        *readings_table(metrics),
        "",
        f"{heading}# Realism: can a classifier tell aged faces from real faces of the target age?",
        "",
        "Logistic regression, 5-fold cross-validated accuracy (0.5: indistinguishable); features: dlib's",
        "descriptor, luminance band energies at four scales, Lab colour statistics of the inner face; real faces",
        "from the training split. The floor: faces rendered at their own estimated age against real faces of the",
        "same ages (what framing and resampling alone give away).",
        "",
        *realism_table(metrics),
        "",
        f"{heading}# The head around the face",
        "",
        "Lab, on the served photo seen through the face's alignment; cheeks, hair patch and neck from the input's",
        "68 landmarks (the neck below the lower of the input's and the aged face's chins, where the chip shows",
        "one). Goal at",
        f"{HEAD_MEASURE_AGE}: the cheeks' lightness against the neck changes by at most {FACE_NECK_GOAL:g} L.",
        "Hair: the non-skin pixels of the patch above the brows that the chip shows "
        f"({_f(_beyond_share(metrics), 0)} % of the patch lies above UTKFace's tight chips).",
        "",
        *head_table(metrics),
        "",
        f"{heading}# Proportions: aged faces against real faces of the target age",
        "",
        "Medians, from the landmarker on each face as served, aligned again on itself as real faces are (a grown",
        "child's chin leaves its input's frame); each a share of the eyes' distance (the eye opening: of the eyes'",
        "width); nose: bridge to base; lower face: nose's base to chin; inner brows: above the inner eye corners.",
        "",
        *proportions_table(metrics),
        "",
        f"{heading}# Goals",
        "",
        "| goal | met |",
        "|---|---|",
        *[f"| {goal} | {_tick(met)} |" for goal, met in metrics["goals"].items()],
        "",
        "![held-out adults aimed at 3, 8 and 13](judged-adults.png)",
        "",
        "![held-out children aimed at 25, 45 and 75](judged-children.png)",
        "",
        f"Faces, seed and counts are in metrics.json (`judges`); this part ran in {_f(metrics['wall_seconds'], 0)} s.",
        "",
    ]
    return "\n".join(lines)


def link_from_docs(path: Path) -> str:
    """`path` as docs/model-card.md links to it, when it lies under a docs/ folder; else as it is."""
    parts = Path(path).resolve().parts
    if "docs" not in parts:
        return str(path)
    return "/".join(parts[len(parts) - parts[::-1].index("docs") :])


def model_card_section(metrics: dict, command: str, report_link: str = "model-card/evaluation/report.md") -> str:
    """A short section for docs/model-card.md: the readings, the realism test and the head at 80."""
    judge = metrics.get("judge", {})
    lines = [
        "### Honest judges (issue 17)",
        "",
        f"`{command}` ([report]({report_link})). Held-out adults (20-60) aimed at 3, 8",
        "and 13 and held-out children (1-7) aimed at 25, 45 and 75, as served, read by the shipped estimator and",
        "by an independent **age judge** (dlib's face-recognition descriptor on its own 150 px chip and a small",
        f"head trained on the training split; validation MAE {_f(judge.get('validation_mae'))} years). Each reading",
        "is set against real held-out faces of the target age read by the same reader; the goal is to read within",
        "3 years of them (children's targets) or 6 (adults' targets).",
        "",
        *readings_table(metrics),
        "",
        "Can a classifier tell the aged faces from real faces of the target age (5-fold accuracy; 0.5 = no)?",
        "",
        *realism_table(metrics),
        "",
        f"The head at {HEAD_MEASURE_AGE} (Lab; goal: face against neck changes by at most {FACE_NECK_GOAL:g} L):",
        "",
        *head_table(metrics, only_at=HEAD_MEASURE_AGE),
        "",
    ]
    return "\n".join(lines)
