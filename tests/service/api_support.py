"""What the /api/v1 tests share: a photo as JPEG bytes, a job posted, the jobs stored."""

import io

from PIL import Image
from sqlalchemy import func, select

from service.models import Job


def _jpeg(pixels, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


def _post(client, content: bytes, name="photo.jpg", headers=None, **form):
    data = {"photo": (io.BytesIO(content), name), **form}
    return client.post("/api/v1/jobs", data=data, headers=headers or {}, content_type="multipart/form-data")


def _stored_jobs(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Job))
