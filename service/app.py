"""The Flask application factory: configuration in, blueprints registered, errors answered in one place."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from service import workers
from service.auth import api_key_id
from service.config import Settings
from service.database import Database
from service.jobs import RequestError
from service.uploads import TooManyFormParts, UploadRequest

log = logging.getLogger(__name__)
FAILED_SIGN_INS = "10 per 15 minutes"  # per address, on the review page


def create_app(settings: Settings | None = None, enqueue=None) -> Flask:
    """`enqueue(job_id)` sends a job to the workers; by default through Celery with the same settings."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = UploadRequest
    # Werkzeug refuses larger bodies before reading them (a batch is the largest request); each file is
    # checked against the per-file limit as it is read.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_batch_bytes + 1024 * 1024
    # The review page's sign-in lives in Flask's signed session cookie.
    app.secret_key = _session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME="faceage_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    app.session_interface = _SchemeFollowingSessions()
    app.extensions["faceage"] = {
        "settings": settings,
        "db": Database(settings.database_url),
        "enqueue": enqueue or _celery_enqueue(settings),
    }
    from service.api import api
    from service.explore import explore_api, explore_pages, faces_rendered
    from service.pages import pages
    from service.review import review

    _redact_tokens_in_request_logs()
    limiter = _limit_new_work(app, api, settings)
    # The explorer renders on every request (GETs included), so all of it is limited like new work, with one
    # budget of its own for all its routes, counted in faces rendered (a sample of 32 costs 32 faces' work).
    limiter.shared_limit(settings.explore_rate_limit, scope="explore", cost=faces_rendered)(explore_api)
    app.register_blueprint(api, url_prefix="/api/v1")
    app.register_blueprint(explore_api, url_prefix="/api/v1/explore")
    app.register_blueprint(pages)
    app.register_blueprint(explore_pages)
    app.register_blueprint(review, url_prefix="/review")
    _throttle_sign_ins(app, limiter)
    _register_errors(app)
    app.after_request(_leave_the_date_to_the_server)

    @app.get("/healthz")
    def health():
        """The whole service, for monitoring and operators: 200 only when the database answers and a worker
        with its models loaded has been heard from recently; 503 otherwise, saying which part is missing."""
        report = workers.health(app.extensions["faceage"]["db"], settings.worker_heartbeat_s)
        return jsonify(report.as_dict()), 200 if report.healthy else 503

    @app.get("/livez")
    def liveness():
        """The web process itself answers (a container's liveness check: restarting the web app would not
        bring a missing worker back)."""
        return jsonify(status="ok")

    return app


class _SchemeFollowingSessions(SecureCookieSessionInterface):
    """Session cookies marked Secure when the request itself came over HTTPS (or always, by the setting)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


class _RedactTokens(logging.Filter):
    """Blanks job tokens (`?token=...`, which the job page may send where it cannot set a header) in log lines."""

    _TOKEN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg, record.args = self._TOKEN.sub(r"\1[redacted]", message), ()
        return True


def _redact_tokens_in_request_logs() -> None:
    """The development server (`faceage serve`) logs every request line, query string included."""
    access_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, _RedactTokens) for f in access_log.filters):
        access_log.addFilter(_RedactTokens())


def _limit_new_work(app: Flask, api, settings: Settings):
    """Rate limits on what creates work (POST), per API key, or per address without one; reading a job's
    status stays free, since the job page polls it."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    db = app.extensions["faceage"]["db"]

    def caller() -> str:
        # The authenticated key's id, so that other spellings of one header ("bEaReR   KEY") share one budget;
        # a missing, malformed or unknown key counts against the address (its request is refused anyway).
        try:
            key_id = api_key_id(db, request.headers.get("Authorization"))
        except PermissionError:
            key_id = None
        return f"key:{key_id}" if key_id is not None else "address:" + get_remote_address()

    limiter = Limiter(caller, app=app, storage_uri=settings.rate_limit_storage, headers_enabled=True)
    limiter.limit(settings.rate_limit, methods=["POST"])(api)
    return limiter


def _throttle_sign_ins(app: Flask, limiter) -> None:
    """Guessing reviewers' passwords: only failed sign-ins count, so a reviewer who types well is never slowed.
    The registered view itself is wrapped: Flask-Limiter checks a decorated view when it is called."""
    failed = lambda response: response.status_code == 401  # noqa: E731
    view = app.view_functions["review.login"]
    app.view_functions["review.login"] = limiter.limit(FAILED_SIGN_INS, methods=["POST"], deduct_when=failed)(view)


def _celery_enqueue(settings: Settings):
    """Send by task name through a Celery app of these settings: the web host needs no model code."""
    from worker.celery_app import create_celery

    celery = create_celery(settings)
    _connect_early(celery)

    def enqueue(job_id: str) -> None:
        celery.send_task("worker.tasks.age_photo", args=[job_id], queue="faceage")

    return enqueue


def _connect_early(celery) -> None:
    """Connect to the broker, declare the queue and import what sending imports when the app starts, not on
    the first upload (which paid 0.1 s for it)."""
    try:
        celery.backend  # noqa: B018  (the disabled result backend, imported on first use)
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)
            celery.amqp.queues["faceage"](connection.default_channel).declare()
    except Exception as error:  # the broker may start after the web app: the first upload then connects
        log.warning("the broker is not reachable yet (%s); jobs are sent once it is", error)


def _session_secret(settings: Settings) -> str:
    """FACEAGE_SECRET_KEY, else a key generated once and kept in the data dir, so sessions survive restarts
    and every web process on this machine signs alike."""
    if settings.secret_key:
        return settings.secret_key
    if not settings.embedded:
        log.warning(
            "FACEAGE_SECRET_KEY is not set: using %s/secret_key; set it where several hosts serve", settings.data_dir
        )
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        _write_new_secret(path)
    return path.read_text().strip()


def _write_new_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by this user only
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        os.link(draft, path)  # atomic, and never replaces: when processes start together, the first one wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def _leave_the_date_to_the_server(response):
    """Werkzeug's conditional responses set a Date header, and the HTTP server (Werkzeug's, gunicorn) writes
    its own besides: a response must carry one (RFC 9110, 6.6.1), so the server's is the one kept."""
    response.headers.pop("Date", None)
    return response


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/review/api/"))


def _register_errors(app: Flask) -> None:
    @app.errorhandler(RequestError)
    def request_error(error: RequestError):
        return jsonify(error={"code": error.code, "message": error.message}), error.status

    @app.errorhandler(PermissionError)
    def forbidden(error: PermissionError):
        return jsonify(error={"code": "unauthorized", "message": str(error)}), 401

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _wants_json():
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        message = {
            413: "the upload is too large; send photos under the size limit one request at a time",
            429: f"too many requests ({error.description}); wait a little and send again",
        }.get(error.code, error.description)
        if isinstance(error, TooManyFormParts):
            code, message = error.code_name, error.description
        # The exception's own headers stay: 405's Allow, 416's Content-Range.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return jsonify(error={"code": code, "message": message}), error.code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify(error={"code": "internal_error", "message": "something went wrong on our side; try again"}), 500
