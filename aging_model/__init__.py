"""Faceage's domain: everything that turns a photo into the same face at other ages, and nothing of the web.

At the top: the pipeline (a photo's journey, `pipeline`), its outputs on disk (`outputs`), the hair that ages
with the face (`hair`), the renderer choice (`renderers`) and the basics every room shares (`age_groups`, `data`,
`weights_io`, `devices`, `shipped`). The rooms:
`prototypes` and `caae` render, `estimator` reads ages, `media` makes films, morphs and sheets, `explore` walks
the CAAE's latent space, `evaluation` measures. See docs/architecture.md.

For Python users, one way in (`aging_model.api`, loaded on first use so that `import aging_model` stays light):
`FaceAger().age(photo, ages)`, `.lifespan(photo)` and `.morph(photo_a, photo_b, age)`.
"""

_PUBLIC = {"FaceAger", "AgedPhoto", "Film", "PhotoError"}


def __getattr__(name: str):
    if name in _PUBLIC:
        from aging_model import api

        return getattr(api, name)
    raise AttributeError(f"module 'aging_model' has no attribute {name!r}")
