"""The explorer: a page (/explore) and its API (/api/v1/explore/...) over the generator's latent space.

A face is a code (50 hex digits, `aging_model.explore.latent`) rendered at an age and a gender, so every face has a
URL. The views validate, call the explorer, and answer JSON or PNG; no API key is needed, and the API is rate
limited like uploads (service.app), in faces rendered rather than requests (`faces_rendered`). The model is
loaded on the first request that needs it, not when the web app starts: the rest of the web process runs
without PyTorch.
"""

from __future__ import annotations

import base64
import functools
import logging
import secrets
import threading

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from service import jobs
from service.jobs import RequestError
from service.uploads import uploaded_photo

log = logging.getLogger(__name__)
explore_pages = Blueprint("explore_pages", __name__, template_folder="templates")
explore_api = Blueprint("explore_api", __name__)

DEFAULT_AGE = 40.0
DEFAULT_GENDER = "female"
DEFAULT_SAMPLES = 8
MAX_SCORE = 5.0  # a direction's score, in spreads of the training faces (the page's sliders go to 3)
_MAX_SEED = 2**32 - 1
# Below this |r|, an unnamed direction is said to go with nothing measured (r = 0.15: 2 % of its variance).
WEAK_CORRELATION = 0.15
# What reading a photo as a code costs against the rate limit, in faces rendered: detecting, aligning and encoding
# its face took 0.45 core-seconds for a 512 px photo and 0.9 for a 2048 px one, a face 0.085 (measured on 2 cores).
PHOTO_COST = 8
_LOADING = threading.Lock()


@explore_pages.get("/explore")
def explore_page():
    """The page reads code, age and gender from its own URL, so the HTML is the same for every face."""
    return render_template("explore.html")


@explore_api.get("/sample")
def sample():
    """`n` faces drawn from the prior (`seed`: random unless given) at `age` and `gender`, best first."""
    count = _sample_count_arg()
    age, gender = _age_arg(), _gender_arg()
    seed_message = f"seed must be a whole number from 0 to {_MAX_SEED}"
    seed = _number_arg("seed", -1, 0, _MAX_SEED, "bad_seed", seed_message, whole=True)
    seed = secrets.randbelow(_MAX_SEED + 1) if seed == -1 else seed
    explorer = _explorer()
    ranked = explorer.best_of(count, age, gender, seed)
    faces = [
        {
            "code": face.code,
            "score": round(face.judgement.score, 4),
            "realism": round(face.judgement.realism, 4),
            "estimated_age": round(face.judgement.estimated_age, 1),
            "female_probability": round(face.judgement.female_probability, 3),
            "thumbnail": _data_url(explorer.thumbnail_png(face.code, age, gender)),
            "url": url_for(".face_png", code=face.code, age=f"{age:g}", gender=gender),
        }
        for face in ranked
    ]
    return jsonify(seed=seed, age=age, gender=gender, faces=faces)


@explore_api.get("/face.png")
def face_png():
    """The face of `code` at `age` and `gender`, 256 px: the same URL always gives the same bytes."""
    code, age, gender = _code_arg(), _age_arg(), _gender_arg()
    response = Response(_explorer().face_png(code, age, gender), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.add_etag()
    return response.make_conditional(request)


@explore_api.get("/directions")
def directions():
    """Where `code` lies along each named direction, in spreads of the training faces."""
    return jsonify(_directions_view(_code_arg()))


@explore_api.get("/steer")
def steer():
    """`code` moved along direction number `direction` until its score there is `score`; the new code."""
    code = _code_arg()
    explorer = _explorer()
    count = len(explorer.directions.directions)
    direction_message = f"direction must be a whole number from 0 to {count - 1}"
    index = _number_arg("direction", None, 0, count - 1, "bad_direction", direction_message, whole=True)
    score_message = f"score must be a number from -{MAX_SCORE:g} to {MAX_SCORE:g}"
    score = _number_arg("score", None, -MAX_SCORE, MAX_SCORE, "bad_score", score_message)
    return jsonify(_directions_view(explorer.steer(code, index, score)))


@explore_api.post("/codes")
def code_of_photo():
    """Multipart `photo` -> the code of its largest face, with the age and gender the estimator reads."""
    from preprocessing.errors import PhotoError

    settings = current_app.extensions["faceage"]["settings"]
    _name, content = uploaded_photo("photo", settings.max_upload_bytes, "send the photo as the multipart field 'photo'")
    # Decoded within the same limits as a job's photo; nothing of it is stored.
    photo = jobs.normalise_photo(content, settings)
    try:
        found = _explorer().code_of_photo(photo.content)
    except PhotoError as error:
        raise RequestError(error.code, error.message) from None
    age = round(found.estimated_age)
    return jsonify(
        code=found.code,
        age=age,
        gender=found.gender,
        url=url_for(".face_png", code=found.code, age=age, gender=found.gender),
    )


def faces_rendered() -> int:
    """What the current request costs against the explorer's rate limit, in faces rendered: so that the limit
    bounds the work one caller makes, `sample?n=32` counts 32, a photo read as a code PHOTO_COST, the rest one."""
    if request.endpoint == "explore_api.sample":
        try:
            return _sample_count_arg()
        except RequestError:
            return 1  # refused before anything is rendered
    return PHOTO_COST if request.endpoint == "explore_api.code_of_photo" else 1


def _directions_view(code: str) -> dict:
    explorer = _explorer()
    scores = explorer.direction_scores(code)
    correlations = explorer.directions.card.get("correlations", {})
    return {
        "code": code,
        "directions": [
            {"index": i, **describe_direction(i, d, correlations), "score": round(float(s), 3)}
            for i, (d, s) in enumerate(zip(explorer.directions.directions, scores))
        ],
    }


def describe_direction(index: int, direction, correlations: dict[str, list[float]]) -> dict:
    """What the page calls direction `index` and its ends, and why, from what is stored with the directions.

    A direction named after a measure keeps that name. One that no measure goes with strongly enough to name it
    (|r| below the builder's MIN_CORRELATION) is called "unnamed direction N (weakly like ...)" after the measure
    it goes with most in the correlations stored with the basis, its ends that measure's ends, marked weak (turned
    where r is negative); it is not given a name it has not earned. Where even that is under WEAK_CORRELATION,
    or nothing was stored, it goes with nothing measured. `named_after` is the key of the measure the name and
    ends come from, `correlation` |r| with it over the training faces (a higher score goes with the higher end).
    """
    from aging_model.explore.directions import MIN_CORRELATION
    from aging_model.explore.face_measures import MEASURES

    if direction.measure is not None:
        r = direction.correlation
        return {
            "name": direction.name,
            "lower": direction.lower,
            "higher": direction.higher,
            "named": True,
            "named_after": direction.measure,
            "correlation": r,
            "about": f"r = {r:.3g} with {direction.name} over the training faces." if r else "",
        }
    number = index + 1
    by_key = {measure.key: measure for measure in MEASURES}
    related = sorted(
        ((values[index], by_key[key]) for key, values in correlations.items() if key in by_key and index < len(values)),
        key=lambda pair: -abs(pair[0]),
    )
    if not related or abs(related[0][0]) < WEAK_CORRELATION:
        return {
            "name": f"unnamed direction {number} (goes with nothing measured)",
            "lower": f"direction {number}, lower",
            "higher": f"direction {number}, higher",
            "named": False,
            "named_after": None,
            "correlation": None,
            "about": f"Unnamed: no measure reaches r = {WEAK_CORRELATION:g} with it.",
        }
    r, measure = related[0]
    lower, higher = (measure.lower, measure.higher) if r > 0 else (measure.higher, measure.lower)
    others = ", ".join(f"{m.name} (r = {value:.3g})" for value, m in related[1:3] if abs(value) >= WEAK_CORRELATION)
    return {
        "name": f"unnamed direction {number} (weakly like {measure.name})",
        "lower": f"{lower}, weakly",
        "higher": f"{higher}, weakly",
        "named": False,
        "named_after": measure.key,
        "correlation": round(abs(r), 3),
        "about": (
            f"Unnamed: no measure reaches r = {MIN_CORRELATION:g}; the closest is {measure.name} (r = {r:.3g})"
            + (f", then {others}." if others else ".")
        ),
    }


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _code_arg() -> str:
    from aging_model.explore.latent import latent_from_code

    raw = request.args.get("code")
    if raw is None:
        raise RequestError("bad_code", "give the face's code: code=50 hex digits")
    try:
        latent_from_code(raw)
    except ValueError as error:
        raise RequestError("bad_code", str(error)) from None
    return raw.strip().lower()


def _sample_count_arg() -> int:
    from aging_model.explore.explorer import MAX_SAMPLES

    message = f"n must be a whole number from 1 to {MAX_SAMPLES}"
    return _number_arg("n", DEFAULT_SAMPLES, 1, MAX_SAMPLES, "bad_n", message, whole=True)


def _age_arg() -> float:
    from aging_model.explore.explorer import MAX_AGE

    return _number_arg("age", DEFAULT_AGE, 0, MAX_AGE, "bad_age", f"age must be a number of years from 0 to {MAX_AGE}")


def _gender_arg() -> str:
    gender = request.args.get("gender", DEFAULT_GENDER)
    if gender not in ("male", "female"):
        raise RequestError("bad_gender", "gender must be male or female")
    return gender


def _number_arg(name: str, default, low: float, high: float, code: str, message: str, whole: bool = False):
    """A query argument within [low, high]; `default` when absent (None: it is required)."""
    raw = request.args.get(name)
    if raw is None and default is not None:
        return default
    try:
        if raw is None or (whole and not raw.strip().isdigit()):
            raise ValueError
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise RequestError(code, message) from None
    if not low <= value <= high:  # NaN and infinities fail here too
        raise RequestError(code, message)
    return value


def _explorer():
    """The explorer of this app's model, loaded on first use (PyTorch with it) and shared by every request."""
    settings = current_app.extensions["faceage"]["settings"]
    with _LOADING:
        return _load_explorer(settings.model_path, settings.estimator_path)


@functools.lru_cache(maxsize=2)
def _load_explorer(model_path: str, estimator_path: str):
    from aging_model.caae.inference import DEFAULT_MODEL_PATH
    from aging_model.estimator.age_gender import DEFAULT_ESTIMATOR_PATH
    from aging_model.explore.explorer import FaceExplorer

    log.info("loading the explorer's model (first explore request)")
    return FaceExplorer.load(model_path or DEFAULT_MODEL_PATH, estimator_path or DEFAULT_ESTIMATOR_PATH)
