"""Stored bytes served with Range requests as RFC 9110 (section 14) has them, over Werkzeug's own handling.

Werkzeug answers 416 to every Range it cannot use. The RFC asks less of a client: a Range of a unit the server
does not know must be ignored, and one that is malformed, or asks for several parts, may be; a suffix longer
than the file means the whole file. So those become a plain 200 (or a 206 of everything); only a range that
starts past the end is a 416, which says the file's length (`Content-Range: bytes */LEN`).
"""

from __future__ import annotations

from flask import Request, Response
from werkzeug.http import parse_range_header


def ranged_response(content: bytes, content_type: str, request: Request) -> Response:
    """`content` whole, or the one byte range the request asks for (206); conditional on its validators."""
    response = Response(content, mimetype=content_type)
    environ = dict(request.environ)
    honoured = honoured_range(environ.pop("HTTP_RANGE", None), len(content))
    if honoured is not None:
        environ["HTTP_RANGE"] = honoured
    return response.make_conditional(environ, accept_ranges=True, complete_length=len(content))


def honoured_range(header: str | None, length: int) -> str | None:
    """The Range header to act on for a file of `length` bytes, or None to serve the whole file."""
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None  # absent, malformed, another unit, or several parts (which we do not send): ignored
    start, _end = parsed.ranges[0]
    if start < 0 and -start > length:
        return "bytes=0-"  # a suffix longer than the file: all of it
    return header
