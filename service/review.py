"""/review: the curators' page. Sign in, go through the dataset's most suspicious images by keyboard, accept,
reject or correct them; the page talks to /review/api with the same session cookie.

Every write carries the image version the page showed, so reviewers never overwrite each other: a stale write
answers 409 and the page reloads that image. Writes to /review/api also need an X-Requested-With header, which
a page on another site cannot send without the browser asking us first (and we never agree), so the session
cookie alone cannot be used to forge decisions; the login and logout forms carry a token instead.
"""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from service import dataset
from service.auth import reviewer_name, signed_in_reviewer
from service.dataset import ReviewFilters, ReviewTarget
from service.models import DatasetImageStatus

review = Blueprint("review", __name__)

API_PREFIX = "/review/api/"
REQUIRED_HEADER = "X-Requested-With"
PAGE_SIZE, MAX_PAGE_SIZE = 120, 500
# Every integer a client sends is checked against this before it reaches a query: the largest INTEGER that
# PostgreSQL stores (SQLite's is larger, and a bigger Python int makes either driver fail with a 500).
MAX_DATABASE_INT = 2**31 - 1
OPEN_ENDPOINTS = {"review.login_page", "review.login"}
ERROR_STATUS = {  # the review errors a reviewer can cause, as HTTP: the one place they are mapped
    dataset.InvalidReview: (400, "invalid"),
    dataset.ImageNotFound: (404, "not_found"),
    dataset.NothingToUndo: (404, "nothing_to_undo"),
    dataset.StaleImage: (409, "stale"),
}


def _db():
    return current_app.extensions["faceage"]["db"]


@review.before_request
def require_reviewer():
    """Everything but the login form needs a signed-in reviewer; API writes also need the custom header."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    reviewer_id = session.get("reviewer_id")
    name = reviewer_name(_db(), reviewer_id) if reviewer_id is not None else None
    if name is None:
        session.pop("reviewer_id", None)
        if request.path.startswith(API_PREFIX):
            raise PermissionError("sign in at /review/login first")
        return redirect(url_for("review.login_page"))
    if request.method == "POST" and request.path.startswith(API_PREFIX) and not request.headers.get(REQUIRED_HEADER):
        return _error(403, "missing_header", f"send the {REQUIRED_HEADER} header with every change")
    g.reviewer = name
    return None


@review.before_request
def check_image_id_in_path():
    """An image id in the URL is range-checked like every other integer (after the sign-in check)."""
    image_id = (request.view_args or {}).get("image_id")
    if image_id is not None:
        _within("image id", image_id, 1, MAX_DATABASE_INT)


@review.errorhandler(dataset.ReviewError)
def review_error(error: dataset.ReviewError):
    status, code = next(v for cls, v in ERROR_STATUS.items() if isinstance(error, cls))
    return _error(status, code, str(error), image_ids=getattr(error, "image_ids", []))


def _error(status: int, code: str, message: str, **extra):
    return jsonify(error={"code": code, "message": message, **extra}), status


# --- Signing in and out -------------------------------------------------------------------------------


@review.get("/login")
def login_page():
    return render_template("review_login.html", csrf_token=_form_token(), message=None)


@review.post("/login")
def login():
    _check_form_token()
    reviewer = signed_in_reviewer(_db(), request.form.get("name", ""), request.form.get("password", ""))
    if reviewer is None:
        return render_template("review_login.html", csrf_token=_form_token(), message="Wrong name or password."), 401
    session.clear()  # a new session on sign-in: nothing set before it (by anyone) carries over
    session["reviewer_id"] = reviewer.id
    return redirect(url_for("review.review_page"))


@review.post("/logout")
def logout():
    _check_form_token()
    session.clear()
    return redirect(url_for("review.login_page"))


def _form_token() -> str:
    session.setdefault("form_token", secrets.token_urlsafe(24))
    return session["form_token"]


def _check_form_token() -> None:
    expected = session.get("form_token")
    if not expected or not secrets.compare_digest(expected, request.form.get("csrf_token", "")):
        abort(400, "the form expired; reload the page and try again")


# --- The page -----------------------------------------------------------------------------------------


@review.get("/")
def review_page():
    return render_template("review.html", reviewer=g.reviewer, csrf_token=_form_token())


# --- The JSON API the page uses -----------------------------------------------------------------------


@review.get("/api/facets")
def facets():
    return jsonify(dataset.review_facets(_db()))


@review.get("/api/images")
def images():
    """The queue: `flag`, `min_age`, `max_age`, `race`, `status`, `reviewer`, `offset`, `limit` (all optional)."""
    limit = min(_int_arg("limit", PAGE_SIZE), MAX_PAGE_SIZE)
    return jsonify(dataset.review_queue(_db(), _filters(), _int_arg("offset", 0), limit))


@review.get("/api/images/<int:image_id>")
def image(image_id: int):
    return jsonify(dataset.review_detail(_db(), image_id))


@review.get("/api/images/<int:image_id>/thumbnail.jpg")
def thumbnail(image_id: int):
    # By id only: the file's path never comes from the client, and only the stored thumbnail is served.
    content = dataset.thumbnail_of(_db(), image_id)
    return Response(content, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@review.get("/api/images/<int:image_id>/similar")
def similar(image_id: int):
    """More like this: the image's nearest others by identity and by appearance, with their labels."""
    return jsonify(dataset.similar_images(_db(), image_id))


@review.post("/api/images/<int:image_id>/decision")
def decide(image_id: int):
    """`{"action": "accept"|"reject"|"correct", "version": N, "age"?: int, "gender"?: 0|1}`."""
    body = _json_body()
    target = ReviewTarget(image_id, _version(body))
    [decided] = dataset.decide(
        _db(), g.reviewer, body.get("action"), [target], age=body.get("age"), gender=body.get("gender")
    )
    return jsonify(image=decided)


@review.post("/api/decisions")
def decide_many():
    """Bulk: `{"action": "accept"|"reject"|"correct", "images": [{"id": N, "version": N}, ...], "age"?: int,
    "gender"?: 0|1}`, all or none (a run of copies sharing one wrong label is corrected at once)."""
    body = _json_body()
    items = body.get("images")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise dataset.InvalidReview("send the images as a list of {id, version}")
    targets = [ReviewTarget(_image_id(item), _version(item)) for item in items]
    decided = dataset.decide(
        _db(), g.reviewer, body.get("action"), targets, age=body.get("age"), gender=body.get("gender")
    )
    return jsonify(images=decided)


@review.post("/api/undo")
def undo():
    """Undo the signed-in reviewer's latest decision (a bulk one entirely)."""
    return jsonify(images=dataset.undo_last_decision(_db(), g.reviewer))


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise dataset.InvalidReview("send a JSON object")
    return body


def _version(body: dict) -> int:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise dataset.InvalidReview('send the version of the image you saw (its "version")')
    return _within("version", version, 0, MAX_DATABASE_INT)


def _image_id(item: dict) -> int:
    image_id = item.get("id")
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise dataset.InvalidReview("every image needs its id")
    return _within("image id", image_id, 1, MAX_DATABASE_INT)


def _filters() -> ReviewFilters:
    status = request.args.get("status") or None
    if status is not None and status not in DatasetImageStatus.__members__:
        raise dataset.InvalidReview(f"status is one of {', '.join(DatasetImageStatus.__members__)}")
    return ReviewFilters(
        flag=request.args.get("flag") or None,
        min_age=_int_arg("min_age", maximum=dataset.MAX_AGE),
        max_age=_int_arg("max_age", maximum=dataset.MAX_AGE),
        race=_int_arg("race"),
        status=status,
        reviewer=request.args.get("reviewer") or None,
    )


def _int_arg(name: str, default: int | None = None, maximum: int = MAX_DATABASE_INT) -> int | None:
    """A whole-number query argument from 0 to `maximum`; `default` when absent."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:  # digits past Python's 4,300 too
        raise dataset.InvalidReview(f"{name} must be a whole number from 0 to {maximum}, not {raw[:40]!r}") from None
    return _within(name, value, 0, maximum)


def _within(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise dataset.InvalidReview(f"{name} must be a whole number from {low} to {high}")
    return value
