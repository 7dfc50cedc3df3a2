"""The evaluation report as files: metrics.json, report.md with tables, two plots and a sample sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aging_model.age_groups import GROUP_CENTRES, GROUP_LABELS
from aging_model.evaluation.identity import SAME_PERSON_DISTANCE
from aging_model.media.sheets import face_grid

SHEET_FACES = 8


def write_report(metrics: dict, arrays: dict, out: Path, model_name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _plot_age(metrics, arrays, out / "age_vs_target.png")
    _plot_identity(metrics, out / "identity_per_group.png")
    _sample_sheet(arrays["inputs"], arrays["rendered"], out / "samples.jpg")
    if "served" in arrays:
        _sample_sheet(
            arrays.get("served_inputs", arrays["inputs"]), arrays["served"], out / "samples-served.jpg", cell=128
        )
    if "served_caae" in arrays:
        _sample_sheet(arrays["inputs"], arrays["served_caae"], out / "samples-served-caae.jpg", cell=128)
    _failure_sheet(metrics, arrays, out / "failures.jpg")
    report = out / "report.md"
    report.write_text(_markdown(metrics, model_name))
    return report


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _plot_age(metrics: dict, arrays: dict, path: Path) -> None:
    plt = _pyplot()
    groups = metrics["model"]["age"]["per_group"]
    means = [g["mean_estimated_age"] for g in groups]
    stds = [g["std_estimated_age"] for g in groups]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([0, 85], [0, 85], color="grey", linestyle="--", linewidth=1, label="ideal")
    ax.errorbar(GROUP_CENTRES, means, yerr=stds, marker="o", capsize=3, label="model: mean ± sd")
    if "served" in metrics:
        served = [g["mean_estimated_age"] for g in metrics["served"]["age"]["per_group"]]
        renderer = metrics["served"].get("renderer", "caae")
        ax.plot(GROUP_CENTRES, served, marker="s", color="tab:purple", label=f"as served ({renderer}): mean")
    if "served_caae" in metrics and metrics["served_caae"] is not metrics.get("served"):
        caae = [g["mean_estimated_age"] for g in metrics["served_caae"]["age"]["per_group"]]
        ax.plot(GROUP_CENTRES, caae, marker="^", color="tab:orange", label="as served (caae renderer): mean")
    if metrics.get("real_readings"):
        real = [np.nan if r is None else r for r in metrics["real_readings"]]
        ax.plot(GROUP_CENTRES, real, marker="o", color="black", linestyle=":", label="real faces of that age: mean")
    ax.scatter(
        GROUP_CENTRES, arrays["mean_face_ages"], marker="x", color="tab:green", label="baseline: group mean face"
    )
    ax.axhline(
        float(np.mean(arrays["input_estimate"])), color="tab:red", linewidth=1, label="baseline: input unchanged (mean)"
    )
    ax.set_xlabel("target age (group centre)")
    ax.set_ylabel("estimated age of the output")
    ax.set_xlim(0, 85)
    ax.set_ylim(0, 85)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_identity(metrics: dict, path: Path) -> None:
    plt = _pyplot()
    groups = metrics["model"]["identity"]["per_group"]
    mean_face = metrics["baselines"]["group_mean_face"]["identity"]["per_group"]
    x = np.arange(len(GROUP_LABELS))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x - 0.2, [g["mean_distance"] for g in groups], width=0.4, label="model")
    ax.bar(
        x + 0.2,
        [g["mean_distance"] for g in mean_face],
        width=0.4,
        color="tab:green",
        alpha=0.6,
        label="baseline: group mean face",
    )
    ax.axhline(SAME_PERSON_DISTANCE, color="tab:red", linestyle="--", linewidth=1, label="dlib same-person threshold")
    ax.set_xticks(x, GROUP_LABELS, rotation=30, fontsize=8)
    ax.set_ylabel("identity distance to the input (dlib)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _sample_sheet(inputs: np.ndarray, rendered: np.ndarray, path: Path, cell: int | None = None) -> None:
    rows = [[inputs[i], *rendered[i]] for i in range(min(SHEET_FACES, len(inputs)))]
    face_grid(rows, ["input", *GROUP_LABELS], cell=cell or max(64, inputs.shape[1])).save(path, quality=92)


def _failure_sheet(metrics: dict, arrays: dict, path: Path) -> None:
    """The worst faces: the lowest age rank correlation, and the least like themselves when reconstructed."""
    rendered, inputs = arrays["rendered"], arrays["inputs"]
    correlations = np.array(metrics["model"]["age"]["rank_correlations"])
    own = np.array(arrays["own_groups"])
    reconstruction = arrays["distances"][np.arange(len(own)), own]
    least_aged = list(np.argsort(correlations)[:4])
    least_themselves = [i for i in np.argsort(-reconstruction) if i not in least_aged][:4]
    rows = [[inputs[i], *rendered[i]] for i in least_aged + least_themselves]
    face_grid(rows, ["input", *GROUP_LABELS], cell=max(64, inputs.shape[1])).save(path, quality=92)


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _tick(passed) -> str:
    return "–" if passed is None else ("✅" if passed else "❌")


def _served_section(metrics: dict) -> list[str]:
    """Per target: how each renderer's faces read, against how real faces of that age read; the served goals."""
    served, caae, real = metrics.get("served"), metrics.get("served_caae"), metrics.get("real_readings")
    if not served or not real:
        return []
    renderers = [(served.get("renderer", "caae"), served, metrics.get("goals_served", {}))]
    if caae and served.get("renderer") != "caae":
        renderers.append(("caae", caae, metrics.get("goals_served_caae", {})))
    lines = [
        "| target | real faces read as | " + " | ".join(f"{name} reads as" for name, _, _ in renderers) + " |",
        "|---|---|" + "---|" * len(renderers),
    ]
    for g, label in enumerate(GROUP_LABELS):
        cells = [f"{m['age']['per_group'][g]['mean_estimated_age']:.1f}" for _, m, _ in renderers]
        lines.append(f"| {GROUP_CENTRES[g]:g} ({label}) | {_fmt(real[g], 1)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| served goal | " + " | ".join(name for name, _, _ in renderers) + " |",
        "|---|" + "---|" * len(renderers),
        *[
            f"| {goal} | " + " | ".join(_tick(goals.get(goal)) for _, _, goals in renderers) + " |"
            for goal in renderers[0][2]
        ],
        "",
        "| measure | " + " | ".join(name for name, _, _ in renderers) + " |",
        "|---|" + "---|" * len(renderers),
        "| mean rank correlation | "
        + " | ".join(_fmt(m["age"]["mean_rank_correlation"]) for _, m, _ in renderers)
        + " |",
        "| own age same person | "
        + " | ".join(_fmt(m["identity"]["reconstruction_same_person_share"]) for _, m, _ in renderers)
        + " |",
        "| ±2 groups same person | "
        + " | ".join(_fmt(m["identity"]["two_groups_same_person_share"]) for _, m, _ in renderers)
        + " |",
        "| fine detail kept (median ratio) | "
        + " | ".join(_fmt(m.get("detail_ratio")) for _, m, _ in renderers)
        + " |",
        "| mean Fréchet distance | "
        + " | ".join(_fmt(m["realism"]["mean_frechet"], 1) for _, m, _ in renderers)
        + " |",
        "",
    ]
    return lines


def _markdown(metrics: dict, model_name: str) -> str:
    model, baselines = metrics["model"], metrics["baselines"]
    age, identity, realism = model["age"], model["identity"], model["realism"]
    lines = [
        f"# Evaluation of `{model_name}`",
        "",
        f"{metrics['faces']} held-out faces (validation split, never trained on), each rendered at the ten age groups.",
        "The age estimator reads the inputs themselves with a mean absolute error of "
        f"{metrics['estimator_on_inputs_mae']:.1f} years.",
        "",
        "![estimated age against target age](age_vs_target.png) ![identity distance per group](identity_per_group.png)",
        "",
        "## Goals",
        "",
        "| goal (the CAAE generator's own faces) | met |",
        "|---|---|",
        *[f"| {name} | {_tick(passed)} |" for name, passed in metrics["goals"].items()],
        "",
        "*As served*: what `faceage age` and the service show. The default renderer (`prototypes`) changes the",
        "photo's own face by the difference of age prototypes (shape, skin detail, colour); the `caae` renderer",
        "applies the generator's change (the same latent at the target age minus at the face's own estimated age)",
        "to the input and blends in the generator's own rendering (`--rendering-weight`, 0.5).",
        "",
        *_served_section(metrics),
        "## Against the baselines",
        "",
        "| | mean rank correlation | share in target group | reconstruction same person | ±2 groups same person |",
        "|---|---|---|---|---|",
    ]
    served = metrics.get("served")
    rows = [("model (generator output)", age, identity)]
    if served:
        rows.append((f"as served ({served.get('renderer', 'caae')} renderer)", served["age"], served["identity"]))
    caae = metrics.get("served_caae")
    if caae and served and served.get("renderer") != "caae":
        rows.append(("as served (caae renderer)", caae["age"], caae["identity"]))
    rows += [(name.replace("_", " "), b["age"], b["identity"]) for name, b in baselines.items()]
    for name, a, i in rows:
        lines.append(
            f"| {name} | {_fmt(a['mean_rank_correlation'])} | {_fmt(a['mean_share_in_target_group'])} | "
            f"{_fmt(i['reconstruction_same_person_share'])} | {_fmt(i['two_groups_same_person_share'])} |"
        )
    lines += [
        "",
        "## Per age group",
        "",
        "| group | target | estimated age (mean ± sd) | in target group | identity distance | same person | Fréchet "
        "| real vs real |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a, i, r in zip(age["per_group"], identity["per_group"], realism["per_group"]):
        lines.append(
            f"| {a['group']} | {a['target_age']:g} | {a['mean_estimated_age']:.1f} ± {a['std_estimated_age']:.1f} | "
            f"{a['share_in_target_group']:.2f} | {i['mean_distance']:.3f} | {i['same_person_share']:.2f} | "
            f"{_fmt(r.get('frechet'), 1)} | {_fmt(r.get('real_vs_real'), 1)} |"
        )
    lines += [
        "",
        f"Monotonic mean age across groups: {'yes' if age['monotonic'] else 'no'}; largest adult-group error "
        f"{age['max_adult_group_error_years']:.1f} years. Mean Fréchet distance {_fmt(realism['mean_frechet'], 1)} "
        f"(real against real: {_fmt(realism['mean_real_vs_real'], 1)}).",
        "",
        "![inputs and their renderings at the ten groups](samples.jpg)",
        "",
        "As served, default renderer (the same faces aligned at a higher resolution):",
        "",
        "![inputs and their served renderings at the ten groups](samples-served.jpg)",
        "",
        "As served by the `caae` renderer:",
        "",
        "![inputs and their caae renderings at the ten groups](samples-served-caae.jpg)",
        "",
        "## Failure cases",
        "",
        "The four faces whose estimated age follows the target least (lowest rank correlation), then the four least",
        "like themselves when reconstructed at their own group (largest identity distance):",
        "",
        "![failure cases](failures.jpg)",
        "",
    ]
    return "\n".join(lines)
