"""Pictures for people: grids of faces with labels (sample sheets, age strips) and loss plots."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LABEL_HEIGHT = 20


def face_grid(rows: list[list[np.ndarray]], column_labels: list[str], cell: int = 96, gap: int = 2) -> Image.Image:
    """A grid of RGB faces, one list per row, every face resized to `cell` px, labels above the columns."""
    n_cols = max(len(row) for row in rows)
    width = n_cols * (cell + gap) + gap
    height = LABEL_HEIGHT + len(rows) * (cell + gap) + gap
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(11, min(16, cell // 9)))  # Pillow's own scalable font
    for col, label in enumerate(column_labels):
        x = gap + col * (cell + gap)
        draw.text((x + 3, 2), label, fill="black", font=font)
    for r, row in enumerate(rows):
        for col, face in enumerate(row):
            tile = Image.fromarray(face).resize((cell, cell), Image.Resampling.LANCZOS)
            sheet.paste(tile, (gap + col * (cell + gap), LABEL_HEIGHT + gap + r * (cell + gap)))
    return sheet


def age_strip(faces: list[np.ndarray], labels: list[str], cell: int = 160) -> Image.Image:
    """One face at several ages, side by side, each labelled."""
    return face_grid([faces], labels, cell=cell)


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """A plot of every loss column in the training log against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    columns = [c for c in rows[0] if c not in ("step", "epoch")]
    fig, axes = plt.subplots(len(columns), 1, figsize=(8, 1.8 * len(columns)), sharex=True)
    for ax, column in zip(np.atleast_1d(axes), columns):
        ax.plot(steps, [float(r[column]) for r in rows], linewidth=0.8)
        ax.set_ylabel(column, rotation=0, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
