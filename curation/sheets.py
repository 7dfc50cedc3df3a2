"""Contact sheets: the top-scored images of each flag in one picture, to judge a flag's precision by eye."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

CELL = 112
CAPTION = 28
ROW_TITLE = 150


def flag_contact_sheet(rows: dict[str, list[tuple[bytes | None, str]]], cell: int = CELL) -> Image.Image:
    """One row per flag (its name, then each image's thumbnail with a short caption under it).

    rows: flag name -> [(thumbnail JPEG bytes, or None for a file that could not be read; caption)], most
    suspicious first.
    """
    columns = max((len(images) for images in rows.values()), default=0)
    width = ROW_TITLE + max(columns, 1) * (cell + 4)
    height = max(len(rows), 1) * (cell + CAPTION + 6)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for r, (name, images) in enumerate(rows.items()):
        top = r * (cell + CAPTION + 6)
        draw.text((4, top + cell // 2), f"{name} ({len(images)})", fill="black", font=font)
        for c, (thumbnail, caption) in enumerate(images):
            left = ROW_TITLE + c * (cell + 4)
            if thumbnail is None:
                draw.rectangle((left, top, left + cell - 1, top + cell - 1), fill="lightgrey")
                draw.text((left + 4, top + cell // 2), "unreadable", fill="black", font=font)
            else:
                tile = Image.open(io.BytesIO(thumbnail)).convert("RGB")
                tile.thumbnail((cell, cell), Image.Resampling.LANCZOS)
                sheet.paste(tile, (left, top))
            draw.text((left, top + cell + 2), caption, fill="black", font=font)
    return sheet
