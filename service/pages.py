"""The pages a person uses: upload a photo, then watch its job and see the result.

They hold no data themselves: the browser talks to /api/v1 with the job's token, which stays in the URL's
fragment (#...), so it never reaches the server's logs.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory

pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@pages.get("/")
def upload_page():
    settings = current_app.extensions["faceage"]["settings"]
    return render_template(
        "upload.html",
        max_upload_mb=settings.max_upload_bytes // 2**20,
        max_upload_bytes=settings.max_upload_bytes,
        default_ages=",".join(f"{a:g}" for a in settings.default_ages),
    )


@pages.get("/morph")
def morph_page():
    settings = current_app.extensions["faceage"]["settings"]
    return render_template("morph.html", max_upload_bytes=settings.max_upload_bytes)


@pages.get("/jobs/<job_id>")
def job_page(job_id: str):
    return render_template("job.html", job_id=job_id)


@pages.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every site whatever the page links, so it is answered, not a 404."""
    return send_from_directory(pages.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)
