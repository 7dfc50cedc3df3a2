"""/api/v1: accept a photo (validate, store, enqueue), report its job, serve its results, delete it.

Access: an API key (`Authorization: Bearer KEY`) opens the jobs it created; the uploader's token (header
`X-Job-Token`, or `?token=` where a header cannot be set) opens that one job. Anything else is a 404, so job
ids reveal nothing.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import zipfile
from datetime import UTC

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from service import batches, jobs
from service.auth import api_key_id
from service.byte_ranges import ranged_response
from service.jobs import RequestError
from service.models import FilmStatus, Job, JobStatus
from service.uploads import read_at_most, uploaded_photo

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)


def _ctx():
    return current_app.extensions["faceage"]


def _caller_key() -> int | None:
    return api_key_id(_ctx()["db"], request.headers.get("Authorization"))


def _readable_job(job_id: str) -> Job:
    key = _caller_key()
    token = request.headers.get("X-Job-Token") or request.args.get("token")
    if key is None and not token:
        raise PermissionError("send the job's token (X-Job-Token) or the API key that created it")
    job = jobs.get_job(_ctx()["db"], job_id)
    if job is None or not jobs.may_read(job, token, key):
        raise RequestError("not_found", "no such job, or it is not yours (it may have expired)", 404)
    return job


@api.get("/openapi.json")
def openapi():
    from service.openapi import openapi_document

    return jsonify(openapi_document())


@api.post("/jobs")
def create_job():
    """Multipart `photo`, optional `ages` (comma separated), `gender` (auto, male, female) and `animate` (true adds
    the lifespan animations, made after the stills: see `film_view`) -> 202."""
    ctx = _ctx()
    settings = ctx["settings"]
    key = _caller_key()
    name, content = uploaded_photo("photo", settings.max_upload_bytes, "send the photo as the multipart field 'photo'")
    ages = jobs.parse_ages(request.form.get("ages"), settings)
    gender = jobs.parse_gender(request.form.get("gender"))
    animate = jobs.parse_flag(request.form.get("animate"), "animate")
    accepted = jobs.accept_photo(
        ctx["db"], settings, content, ages, gender, api_key_id=key, item_name=name, animate=animate
    )
    if not accepted.duplicate:
        _enqueue_or_fail(accepted.job_id)
    job = jobs.get_job(ctx["db"], accepted.job_id)
    body = job_view(job)
    body["duplicate"] = accepted.duplicate
    if accepted.token:
        body["token"] = accepted.token
        body["urls"]["page"] = url_for("pages.job_page", job_id=job.id) + f"#{accepted.token}"
    log.info("job %s accepted (%d bytes, ages %s, gender %s)", job.id, len(content), ages, gender)
    return jsonify(body), 200 if accepted.duplicate else 202


@api.post("/morphs")
def create_morph():
    """Multipart `photo_a` and `photo_b`, optional `age` (0-100, default 40) and `gender` -> 202: a job whose
    results are the largest face of A becoming that of B at that age (MP4, GIF and a strip of stills)."""
    ctx = _ctx()
    settings = ctx["settings"]
    key = _caller_key()
    photos = []
    for field in ("photo_a", "photo_b"):
        missing = f"send both photos, as the multipart fields 'photo_a' and 'photo_b' ({field} is missing)"
        photos.append(uploaded_photo(field, settings.max_upload_bytes, missing)[1])
    age = jobs.parse_age(request.form.get("age"))
    gender = jobs.parse_gender(request.form.get("gender"))
    accepted = jobs.accept_morph(ctx["db"], settings, photos[0], photos[1], age, gender, api_key_id=key)
    _enqueue_or_fail(accepted.job_id)
    body = job_view(jobs.get_job(ctx["db"], accepted.job_id))
    body["token"] = accepted.token
    body["urls"]["page"] = url_for("pages.job_page", job_id=accepted.job_id) + f"#{accepted.token}"
    log.info("morph %s accepted (age %s)", accepted.job_id, age)
    return jsonify(body), 202


def _enqueue_or_fail(job_id: str) -> None:
    """A job the workers never hear of would wait forever: if the broker cannot take it, refuse now."""
    try:
        _ctx()["enqueue"](job_id)
    except Exception:
        log.exception("could not enqueue job %s", job_id)
        jobs.delete_job(_ctx()["db"], job_id)
        raise RequestError("queue_unavailable", "the work queue is unavailable; try again in a minute", 503) from None


@api.get("/jobs/<job_id>")
def read_job(job_id: str):
    return jsonify(job_view(_readable_job(job_id)))


@api.delete("/jobs/<job_id>")
def remove_job(job_id: str):
    job = _readable_job(job_id)
    jobs.delete_job(_ctx()["db"], job.id)
    return "", 204


@api.get("/jobs/<job_id>/files/<path:name>")
def job_file(job_id: str, name: str):
    job = _readable_job(job_id)
    image = jobs.result_image(_ctx()["db"], job.id, name)
    if image is None:
        raise RequestError("not_found", f"job {job.id} has no file {name}", 404)
    # Range requests answered, so a player can seek in a lifespan video before it has all of it
    response = ranged_response(image.content, image.content_type, request)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@api.get("/jobs/<job_id>/photo")
def job_photo(job_id: str):
    """The photo as it was stored (turned upright, at the working size, without metadata): the result page shows
    it before any age, and its faces' boxes are drawn on it."""
    job = _readable_job(job_id)
    content = jobs.upload_of(_ctx()["db"], job.id)
    if content is None:
        raise RequestError("not_found", f"job {job.id} has no photo", 404)
    response = Response(content, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@api.get("/jobs/<job_id>/results.zip")
def job_zip(job_id: str):
    job = _readable_job(job_id)
    if job.status != JobStatus.done:
        raise RequestError("not_ready", f"the job is {job.status.value}; results come when it is done", 409)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # images are compressed already
        for image in jobs.result_images(_ctx()["db"], job.id):
            archive.writestr(image.name, image.content)
        archive.writestr("result.json", _json_bytes(job.result))
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="faceage-{job.id}.zip"'},
    )


def _iso(moment) -> str:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which are UTC here."""

    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _json_bytes(value) -> bytes:

    return (json.dumps(value, indent=2) + "\n").encode()


def _require_key() -> int:
    key = _caller_key()
    if key is None:
        raise PermissionError("batches need an API key: send 'Authorization: Bearer KEY' (faceage apikey create)")
    return key


@api.post("/batches")
def create_batch():
    """Multipart `photos` (many files) or `archive` (one zip), optional `ages` and `gender` -> 202."""
    ctx = _ctx()
    settings = ctx["settings"]
    key = _require_key()
    ages = jobs.parse_ages(request.form.get("ages"), settings)
    gender = jobs.parse_gender(request.form.get("gender"))
    archive = request.files.get("archive")
    if archive is not None:  # read from Werkzeug's spooled file: a batch never sits whole in memory
        files = batches.read_zip(archive.stream, settings)
    else:
        files = batches.BatchFiles(
            [
                (f.filename or "photo", functools.partial(read_at_most, f.stream, settings.max_upload_bytes + 1))
                for f in request.files.getlist("photos")
            ]
        )
    batch_id, items = batches.create_batch(ctx["db"], settings, files, ages, gender, key)
    for item in items:
        if item.status == "queued":
            _enqueue_or_fail(item.job_id)
    log.info("batch %s accepted: %d item(s)", batch_id, len(items))
    return jsonify(batch_view(batch_id)), 202


@api.get("/batches/<batch_id>")
def read_batch(batch_id: str):
    _readable_batch(batch_id)
    return jsonify(batch_view(batch_id))


@api.delete("/batches/<batch_id>")
def remove_batch(batch_id: str):
    """The batch, its jobs and every upload and result of them, now."""
    _readable_batch(batch_id)
    batches.delete_batch(_ctx()["db"], batch_id)
    return "", 204


@api.get("/batches/<batch_id>/results.zip")
def batch_zip(batch_id: str):
    """Every finished item's files under its own name (the input tree), and summary.json with every item."""
    _readable_batch(batch_id)
    db = _ctx()["db"]
    buffer = io.BytesIO()
    summary = batch_view(batch_id)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for job in batches.batch_jobs(db, batch_id):
            if job.status != JobStatus.done:
                continue
            folder = job.item_name.rsplit(".", 1)[0]
            for image in jobs.result_images(db, job.id):
                archive.writestr(f"{folder}/{image.name}", image.content)
            archive.writestr(f"{folder}/result.json", _json_bytes(job.result))
        archive.writestr("summary.json", _json_bytes(summary))
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="faceage-batch-{batch_id}.zip"'},
    )


def _readable_batch(batch_id: str) -> None:
    key = _require_key()
    batch = batches.get_batch(_ctx()["db"], batch_id)
    if batch is None or batch.api_key_id != key:
        raise RequestError("not_found", "no such batch, or it is not yours (it may have expired)", 404)


def batch_view(batch_id: str) -> dict:
    items = []
    counts = {status.value: 0 for status in JobStatus}
    for job in batches.batch_jobs(_ctx()["db"], batch_id):
        counts[job.status.value] += 1
        item = {
            "name": job.item_name,
            "job": job.id,
            "status": job.status.value,
            "progress": job.progress,
            "url": url_for("api.read_job", job_id=job.id),
        }
        if job.status == JobStatus.failed:
            item["error"] = {"code": job.error_code, "message": job.error_message}
        items.append(item)
    finished = counts["done"] + counts["failed"]
    return {
        "id": batch_id,
        # Done once every item left is finished: a batch whose items were all deleted is done, not running.
        "status": "done" if finished == len(items) else "running",
        "counts": counts,
        "progress": round(
            sum(i["progress"] if i["status"] != "failed" else 1.0 for i in items) / max(len(items), 1), 3
        ),
        "items": items,
        "urls": {
            "self": url_for("api.read_batch", batch_id=batch_id),
            "results": url_for("api.batch_zip", batch_id=batch_id),
        },
    }


def job_view(job: Job) -> dict:
    """The job as the API shows it: status, progress, per-face quality, reason, result URLs and their ages."""
    files = lambda name: url_for("api.job_file", job_id=job.id, name=name)  # noqa: E731
    body = {
        "id": job.id,
        "status": job.status.value,
        "stage": job.stage,
        "progress": job.progress,
        "ages": job.ages,
        "gender": job.gender,
        "animate": jobs.wants_animation(job),
        "created_at": _iso(job.created_at),
        "expires_at": _iso(job.expires_at),
        "error": {"code": job.error_code, "message": job.error_message} if job.status == JobStatus.failed else None,
        "urls": {"self": url_for("api.read_job", job_id=job.id)},
    }
    body["film"] = film_view(job)
    if job.batch_id:
        body["batch"] = job.batch_id
    if jobs.morph_age(job) is not None:
        body["morph"] = {"age": jobs.morph_age(job)}
    if job.result and "morph" in job.result:
        morph = job.result["morph"]
        body["results"] = {
            "morph": {"age": morph["age"], **{k: files(morph[k]) for k in ("mp4", "gif", "strip")}},
            "zip": url_for("api.job_zip", job_id=job.id),
        }
    elif job.result:
        result = job.result
        body["faces"] = [
            {
                k: face[k]
                for k in (
                    "face",
                    "box",
                    "quality",
                    "usable",
                    "aged",
                    "left_out",
                    "estimated_age",
                    "estimated_female_probability",
                    "own_age_group",
                )
                if k in face
            }
            for face in result["faces"]
        ]
        body["results"] = {
            "photo": url_for("api.job_photo", job_id=job.id),
            # the faces' boxes are in the pixels of the photo as sent: this size turns them into fractions of it
            "original_size": result.get("original_size"),
            "composites": [{"age": c["age"], "url": files(c["file"])} for c in result["composites"]],
            "faces": [
                {
                    "face": f["face"],
                    "aligned": files(f["files"]["aligned"]),
                    "strip": files(f["files"]["strip"]),
                    "ages": [{"age": a["age"], "url": files(a["file"])} for a in f["files"]["ages"]],
                }
                for f in result["faces"]
                if "files" in f
            ],
            "zip": url_for("api.job_zip", job_id=job.id),
        }
        if "lifespan" in result:
            lifespan = result["lifespan"]
            body["results"]["lifespan"] = {
                "ages": lifespan["ages"],
                "frames_per_second": lifespan["frames_per_second"],
                "photo": files(lifespan["photo"]),
                "faces": [
                    {"face": f["face"], "mp4": files(f["mp4"]), "gif": files(f["gif"])} for f in lifespan["faces"]
                ],
            }
        body["timings_s"] = result.get("timings_s")
    return body


def film_view(job: Job) -> dict | None:
    """The lifespan film of a job that asked for it (None otherwise): made after the stills, so a job is `done` with
    its stills while its film is still pending or running; `results.lifespan` appears once the film is done. A
    failed film leaves the job done, with the reason here."""
    if job.film_status is None:
        return None
    failed = job.film_status == FilmStatus.failed
    return {
        "state": job.film_status.value,
        "progress": job.film_progress,
        "error": (job.film_error or {"code": "failed", "message": "the film could not be made"}) if failed else None,
    }
