"""The photo parts of a request as the service reads them: a part without a file name, and a form of too many
fields, are each refused with a code of their own (not as a missing photo, nor as an upload too large)."""

import io

import pytest

from service.auth import create_api_key

ENDPOINTS = [
    ("/api/v1/jobs", "photo", {}),
    ("/api/v1/morphs", "photo_a", {"photo_b": "astronaut"}),
    ("/api/v1/explore/codes", "photo", {}),
]


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body as curl writes it, `filename=""` included: (name, filename or None, content) each."""
    boundary = "faceage-test-boundary"
    body = io.BytesIO()
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body.write(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(("url", "field", "others"), ENDPOINTS)
def test_a_photo_with_an_empty_file_name_has_its_own_code(isolated, astronaut_jpeg, url, field, others):
    parts = [(field, "", astronaut_jpeg)] + [(name, "b.jpg", astronaut_jpeg) for name in others]
    body, content_type = _multipart(parts)
    refused = isolated.client.post(url, data=body, content_type=content_type)
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "empty_filename" and field in error["message"] and "name" in error["message"]
    assert isolated.enqueued == []


@pytest.mark.parametrize(("url", "field", "others"), ENDPOINTS)
def test_a_form_without_a_file_chosen_is_a_missing_photo(isolated, astronaut_jpeg, url, field, others):
    # What a browser sends when no file is chosen: an unnamed, empty part.
    parts = [(field, "", b"")] + [(name, "b.jpg", astronaut_jpeg) for name in others]
    body, content_type = _multipart(parts)
    refused = isolated.client.post(url, data=body, content_type=content_type)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "missing_photo"


@pytest.mark.parametrize("url", ["/api/v1/jobs", "/api/v1/batches", "/api/v1/explore/codes"])
def test_a_form_of_too_many_fields_says_so(isolated, astronaut_jpeg, url):
    parts = [(f"field{i}", None, b"x") for i in range(1500)] + [("photo", "a.jpg", astronaut_jpeg)]
    body, content_type = _multipart(parts)
    key = {"Authorization": f"Bearer {create_api_key(isolated.database, 'many')}"}  # batches need one
    refused = isolated.client.post(url, data=body, content_type=content_type, headers=key)
    assert 400 <= refused.status_code < 500
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_fields" and "1000" in error["message"] and "fields" in error["message"]
    assert "too large" not in error["message"]


def test_a_form_just_under_the_field_limit_is_read(isolated, astronaut_jpeg):
    parts = [(f"field{i}", None, b"x") for i in range(998)] + [
        ("ages", None, b"30"),
        ("photo", "a.jpg", astronaut_jpeg),
    ]
    body, content_type = _multipart(parts)
    accepted = isolated.client.post("/api/v1/jobs", data=body, content_type=content_type)
    assert accepted.status_code == 202, accepted.get_json()
