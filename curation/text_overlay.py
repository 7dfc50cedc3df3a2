"""Text overlaid on a face photo: captions, names, dates, logos and stock-photo watermarks.

Offline and classical (OpenCV + numpy only, no model to download), ~2 ms for a 200 px chip.

Method, on a grey copy resized to WORK_SIZE px:
1. Strokes: a white top-hat and a black-hat (opening/closing with a kernel wider than any letter stroke)
   keep thin structures brighter / darker than their surroundings; thresholding them at STROKE_CONTRAST
   grey levels gives two masks, one per text polarity (white text and black text are handled apart so a
   letter is never merged with the shadow or outline around it).
2. Characters: connected components of each mask that are letter-sized (height, aspect), thin-stroked
   (stroke width, estimated as 2 * area / perimeter, small against the height) and not solid blobs.
3. Lines: characters linked to a neighbour of similar height, aligned on the same centre line and close
   enough horizontally to be the next letter, grouped into lines (union-find).
4. Score: the best line's number of characters (wide components, several letters run together, count
   for as many letters as their width holds) over LINE_CHARACTERS, scaled down when its characters'
   heights or stroke widths vary (printed text is uniform; hair and facial features are not).

What must not score: eyes, eyebrows, nostrils and the mouth come in ones and twos; teeth are solid blobs
touching each other; hair strands vary in height, slant and spacing; glasses are long curves, larger
than a letter. Requiring several uniform, aligned, thin-stroked components rejects these.

Known limits:
- Text smaller than ~5 px tall (at WORK_SIZE) or with letters taller than a fifth of the image (a
  huge logo) is not seen; nor is text with little contrast to what is under it (a faint watermark
  under STROKE_CONTRAST grey levels, or coloured text on a background of the same brightness).
- Vertical or strongly curved text is not grouped into a line; single letters or digits ("5") are
  not enough to flag.
- Thin text that has been resampled (a chip cut from a larger photo) can break into pieces, or run
  together, and score lower than the same text drawn at 200 px; scores move by a few tenths with scale.
- Tuned for precision over recall. On every 7th UTKFace chip (3304): 4 score >= 1.0, all real
  watermarks (FINDMUGSHOTS, gettyimages, shutterstock, fotolia); of the 40 top-scored about 11 hold real
  overlaid text, mostly between 0.7 and 1.0 (faint shutterstock watermarks, a URL in a corner) among
  false alarms from teeth, eyes, glasses frames, knitted or checked clothes and beards. Faint
  watermarks (dreamstime's, most shutterstock ones) are mostly missed.
- Regular patterns that look like a row of letters (a striped collar, a row of buttons, lettering on
  a T-shirt - which is real text, but not an overlay) can score.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.sparse.csgraph import connected_components

WORK_SIZE = 200  # UTKFace chips' own size: no resampling for them, and letter sizes below are in these px
STROKE_KERNEL = 7  # top-hat width: strokes up to ~6 px wide pass, face regions wider than that do not
STROKE_CONTRAST = 24  # grey levels a stroke must stand out by (JPEG noise and skin texture stay under)
MIN_HEIGHT, MAX_HEIGHT = 4, 40  # a letter's height in px
MAX_STROKE_RATIO = 0.3  # stroke width / letter height: letters are thin-stroked, teeth and pupils are not
MAX_FILL = 0.65  # area / box: letters leave most of their box empty
TALL_COLUMN = 0.6  # a column covering this much of a component's height is a vertical stroke
MIN_COMPONENTS, MIN_LETTERS = 3, 4  # a line: at least 3 components holding at least 4 letters
LINE_CHARACTERS = 4.5  # characters in a uniform line for a score of 1.0 (set on UTKFace, see the docstring)


def text_overlay_score(pixels: np.ndarray) -> tuple[float, dict]:
    """How much an RGB uint8 image (H, W, 3) looks like it has a line of text over it.

    Returns (score, details): score >= 1.0 flags the image, 2.0 is clearly text; details hold the number
    of characters in the best line, its polarity and its box (x, y, w, h in the input image's pixels).
    """
    height, width = pixels.shape[:2]
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    if (height, width) != (WORK_SIZE, WORK_SIZE):
        grey = cv2.resize(grey, (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (STROKE_KERNEL, STROKE_KERNEL))
    best = (0.0, {"characters": 0})
    for polarity, operation in (("light", cv2.MORPH_TOPHAT), ("dark", cv2.MORPH_BLACKHAT)):
        strokes = cv2.morphologyEx(grey, operation, kernel) >= STROKE_CONTRAST
        characters = _character_components(strokes.astype(np.uint8))
        score, details = _best_line(characters)
        if score > best[0]:
            best = (score, {**details, "polarity": polarity})
    score, details = best
    if "box" in details:  # back to the caller's pixels
        sx, sy = width / WORK_SIZE, height / WORK_SIZE
        x, y, w, h = details["box"]
        details["box"] = (round(x * sx), round(y * sy), round(w * sx), round(h * sy))
    return round(score, 3), details


def _character_components(mask: np.ndarray) -> np.ndarray:
    """Rows of (x, y, w, h, stroke width, letters) for the mask's components shaped like letters."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # Perimeter = pixels on the component's edge; a stroke's width is then ~ 2 * area / perimeter
    # (a 1 px line: 2; a solid w x h block: ~ w*h / (w+h), i.e. large).
    edge = mask & ~cv2.erode(mask, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    perimeter = np.bincount(labels[edge.astype(bool)], minlength=count)
    _x, _y, w, h, area = (stats[1:, i].astype(np.float32) for i in range(5))
    stroke = 2 * area / np.maximum(perimeter[1:], 1)
    fill = area / (w * h)
    keep = (
        (h >= MIN_HEIGHT)
        & (h <= MAX_HEIGHT)
        & (w <= 6 * h)  # a word at most, not a long edge
        & (fill <= MAX_FILL)  # not a solid blob (a tooth, a pupil)
        & (stroke <= np.maximum(MAX_STROKE_RATIO * h, 2.5))  # thin strokes
    )
    rows = []
    for i in np.flatnonzero(keep):
        x0, y0, cw, ch = stats[i + 1, :4]
        shape = labels[y0 : y0 + ch, x0 : x0 + cw] == i + 1
        # Vertical strokes: runs of columns the component covers over most of its height. Letters have one
        # or more ("l" 1, "n" 2, "m" 3, "o" its two sides); wrinkles, the line between the lips and the
        # rim of glasses are curves that cover a small part of any column, and count none.
        tall = shape.mean(axis=0) >= TALL_COLUMN
        strokes = np.count_nonzero(tall[1:] & ~tall[:-1]) + tall[0]
        # A letter has some width; a narrow bar (the gap between two teeth, a hair) only counts a half,
        # as does a compact curve with no vertical stroke ("s", "c" when small).
        if strokes == 0:
            if cw > 1.2 * ch:
                continue
            letters = 0.5
        elif cw < 0.35 * ch:
            letters = 0.5
        else:  # several letters run together: one per two strokes, at most one per 0.6 height of width
            letters = max(1.0, min(strokes / 2, cw / (0.6 * ch)))
        rows.append((x0, y0, cw, ch, stroke[i], letters))
    return np.array(rows, np.float32).reshape(-1, 6)


def _best_line(chars: np.ndarray) -> tuple[float, dict]:
    """Group characters into horizontal lines; score the best one."""
    n = len(chars)
    if n < 2:
        return 0.0, {"characters": int(chars[:, 5].sum()) if n else 0}
    x, y, w, h = chars[:, 0], chars[:, 1], chars[:, 2], chars[:, 3]
    cy = y + h / 2
    taller = np.maximum(h[:, None], h[None, :])
    gap = np.maximum(x[:, None], x[None, :]) - np.minimum(x[:, None] + w[:, None], x[None, :] + w[None, :])
    linked = (
        (np.minimum(h[:, None], h[None, :]) / taller >= 0.6)  # similar height
        & (np.abs(cy[:, None] - cy[None, :]) <= 0.25 * taller)  # same centre line
        & (gap <= 1.0 * taller)  # the next letter, or the next word
        & (gap >= -0.3 * taller)  # side by side, not stacked
    )
    np.fill_diagonal(linked, False)
    # Each connected group of linked characters is a line of text.
    _, line_of = connected_components(linked, directed=False)
    best = (0.0, {"characters": 0})
    for line in np.unique(line_of):
        members = chars[line_of == line]
        letters = members[:, 5].sum()
        # Eyes, nostrils and the corners of the mouth come in twos, an iris and its glints in threes.
        if len(members) < MIN_COMPONENTS or letters < MIN_LETTERS:
            continue
        # Printed letters share a height and a stroke width; scale the count down by their spread.
        height_spread = np.std(members[:, 3]) / np.mean(members[:, 3])
        stroke_spread = np.std(members[:, 4]) / np.mean(members[:, 4])
        uniformity = max(0.0, 1 - height_spread - 0.5 * stroke_spread)
        score = letters / LINE_CHARACTERS * uniformity
        if score > best[0]:
            x0, y0 = members[:, 0].min(), members[:, 1].min()
            x1, y1 = (members[:, 0] + members[:, 2]).max(), (members[:, 1] + members[:, 3]).max()
            best = (
                float(score),
                {
                    "characters": int(letters),
                    "components": len(members),
                    "box": (int(x0), int(y0), int(x1 - x0), int(y1 - y0)),
                },
            )
    return best
