"""The multipart uploads a request carries, read so that each way of sending one wrong gets its own answer.

Werkzeug refuses a form of more than `MAX_FORM_PARTS` parts (a bound on the parsing work) with the same 413 as
a body too large; `UploadRequest` counts the parts as the body streams in and refuses the one too many itself,
saying so. `uploaded_photo` tells a part sent without a file name from no file at all.
"""

from __future__ import annotations

from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from service.jobs import RequestError


class TooManyFormParts(RequestEntityTooLarge):
    """A form of more parts (fields and files) than the service parses."""

    code_name = "too_many_fields"

    def __init__(self, limit: int):
        super().__init__(
            f"the form has more than {limit} fields; send at most {limit} (photos, ages and gender included)"
        )


class _PartCountingStream:
    """The request body, counting multipart delimiters as it is read: each one opens a part."""

    def __init__(self, stream, boundary: bytes, limit: int):
        self._stream, self._delimiter, self._limit = stream, b"--" + boundary, limit
        self._tail, self._parts = b"", 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        window = self._tail + data  # the tail is shorter than a delimiter: none is counted twice
        self._parts += window.count(self._delimiter)
        self._tail = window[-(len(self._delimiter) - 1) :]
        if self._parts - 1 > self._limit:  # the delimiter that closes the form opens nothing
            raise TooManyFormParts(self._limit)
        return data

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _PartCountingParser(FormDataParser):
    def parse(self, stream, mimetype, content_length, options=None):
        boundary = (options or {}).get("boundary", "")
        if mimetype == "multipart/form-data" and self.max_form_parts and boundary.isascii() and boundary:
            stream = _PartCountingStream(stream, boundary.encode("ascii"), self.max_form_parts)
        return super().parse(stream, mimetype, content_length, options)


class UploadRequest(Request):
    """Flask's request, whose multipart forms refuse too many parts with TooManyFormParts."""

    form_data_parser_class = _PartCountingParser


def uploaded_photo(field: str, max_bytes: int, missing: str) -> tuple[str, bytes]:
    """The file name and bytes (at most `max_bytes` + 1, for the caller's limit) of the photo in `field`.

    Raises RequestError `missing_photo` (with the message `missing`) when there is none, or only an empty
    part without a name (a browser's form with no file chosen), and `empty_filename` for bytes sent without
    a file name, which is how a client that meant to send a file but lost its name sends it.
    """
    upload = request.files.get(field)
    if upload is None:
        raise RequestError("missing_photo", missing)
    content = read_at_most(upload.stream, max_bytes + 1)
    if upload.filename:
        return upload.filename, content
    if not content:
        raise RequestError("missing_photo", missing)
    raise RequestError(
        "empty_filename",
        f"the file in '{field}' was sent with an empty file name (filename=\"\"); send it with its name, "
        f"e.g. curl -F '{field}=@face.jpg'",
    )


_CHUNK_BYTES = 1 << 20


def read_at_most(stream, limit: int) -> bytes:
    """At most `limit` bytes of a file, read a chunk at a time: `read(limit)` would allocate the whole limit (30 MB)
    up front for every file, however small."""
    chunks = []
    while limit > 0 and (chunk := stream.read(min(_CHUNK_BYTES, limit))):
        chunks.append(chunk)
        limit -= len(chunk)
    return b"".join(chunks)
