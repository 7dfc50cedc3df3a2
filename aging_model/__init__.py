"""Faceage's domain: everything that turns a photo into the same face at other ages, and nothing of the web.

At the top: the pipeline (a photo's journey, `pipeline`), its outputs on disk (`outputs`), the hair that ages
with the face (`hair`) and the basics every room shares (`age_groups`, `data`, `weights_io`). The rooms:
`prototypes` and `caae` render, `estimator` reads ages, `media` makes films, morphs and sheets, `explore` walks
the CAAE's latent space, `evaluation` measures. See docs/architecture.md.
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"  # every shipped weights file, whichever room loads it
