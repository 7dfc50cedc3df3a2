"""The fairness table of docs/curation.md, from a cached sample (see scripts/fairness_sample.py).

    uv run python scripts/fairness_table.py /tmp/sample.npz --looks /tmp/looks

Prints every flag's rate per race label, gender and age group (Markdown), names the groups above 1.5x the
overall rate, and with --looks writes a sheet (PNG) of up to 30 of each such group's flagged faces, to judge
by eye whether the flag is right there.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from curation.duplicates import group_flags
from curation.fairness import FacePopulation, flag_rates, groups_of, markdown_table, over_represented
from curation.flags import ALL_FLAGS, CurationThresholds

SIDE = 100


def population(cache: Path) -> tuple[list[FacePopulation], np.ndarray]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from same_person_fairness import load_features

    data = np.load(cache)
    features, _ = load_features(cache)
    grouped = group_flags(features, CurationThresholds())
    faces = []
    for i in range(len(data["names"])):
        names = {name for name, _ in json.loads(str(data["flags"][i]))} | {f.name for f in grouped.get(i, [])}
        faces.append(
            FacePopulation(int(data["age"][i]), int(data["gender"][i]), int(data["race"][i]), frozenset(names))
        )
    return faces, data["names"]


def look_sheet(faces, names, flag: str, group: str, dataset: Path) -> Image.Image:
    chosen = [i for i, face in enumerate(faces) if flag in face.flags and group in groups_of(face)]
    chosen = sorted(random.Random(0).sample(chosen, min(30, len(chosen))))
    columns = 10
    sheet = Image.new("RGB", (columns * SIDE, 20 + -(-len(chosen) // columns) * (SIDE + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), f"{flag}, {group}: {len(chosen)} random flagged faces", fill="black")
    for n, i in enumerate(chosen):
        x, y = (n % columns) * SIDE, 20 + (n // columns) * (SIDE + 14)
        with Image.open(dataset / str(names[i])) as image:
            sheet.paste(image.convert("RGB").resize((SIDE, SIDE)), (x, y))
        draw.text((x + 2, y + SIDE), str(names[i]).split("_2017")[0], fill="black")
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/utkface")
    parser.add_argument("--looks", type=Path, default=None)
    args = parser.parse_args()
    faces, names = population(args.cache)
    raised = [name for name in ALL_FLAGS if any(name in face.flags for face in faces)]
    table = flag_rates(faces, raised)
    print(markdown_table(table))
    for flag, rates in table.items():
        for rate in over_represented(rates):
            print(f"check {flag}: {rate.group} {100 * rate.rate:.1f} % vs {100 * rates[0].rate:.1f} % overall")
            if args.looks:
                args.looks.mkdir(parents=True, exist_ok=True)
                out = args.looks / f"{flag}-{rate.group.replace(': ', '-')}.png"
                look_sheet(faces, names, flag, rate.group, args.dataset).save(out)


if __name__ == "__main__":
    main()
