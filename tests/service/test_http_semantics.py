"""HTTP as RFC 9110 has it, where a client can tell: Range requests on result files (unknown units and malformed
ranges ignored, a suffix longer than the file is the whole file, 416 says the length), error responses that keep
their headers (416's Content-Range, 405's Allow), and one Date header per response."""

import http.client
import threading
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from service import jobs

CONTENT = bytes(range(256)) * 4  # 1,024 bytes, each position recognisable
NAME = "face-1/lifespan.mp4"


@pytest.fixture
def result_file(isolated, astronaut_jpeg):
    """A job with one stored result file: (its URL, the headers that open it)."""
    accepted = jobs.accept_photo(isolated.database, isolated.settings, astronaut_jpeg, [20.0], "auto")
    film = SimpleNamespace(name=NAME, kind="lifespan", face=1, age=None, content_type="video/mp4", content=CONTENT)
    jobs.store_results(isolated.database, accepted.job_id, {"faces": [], "composites": []}, [film])
    return f"/api/v1/jobs/{accepted.job_id}/files/{NAME}", {"X-Job-Token": accepted.token}


def test_a_byte_range_is_answered_with_206_and_its_part(isolated, result_file):
    url, headers = result_file
    part = isolated.client.get(url, headers={**headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == CONTENT[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/1024" and part.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("value", ["items=0-10", "bytes=abc", "bytes=5-2", "bytes=0-1,4-5", "pages"])
def test_a_range_of_an_unknown_unit_or_malformed_is_ignored(isolated, result_file, value):
    url, headers = result_file
    whole = isolated.client.get(url, headers={**headers, "Range": value})
    assert whole.status_code == 200 and whole.data == CONTENT and "Content-Range" not in whole.headers


def test_a_suffix_longer_than_the_file_is_the_whole_file(isolated, result_file):
    url, headers = result_file
    whole = isolated.client.get(url, headers={**headers, "Range": "bytes=-999999999"})
    assert whole.status_code == 206 and whole.data == CONTENT
    assert whole.headers["Content-Range"] == "bytes 0-1023/1024"


def test_an_unsatisfiable_range_is_a_416_json_error_that_says_the_length(isolated, result_file):
    url, headers = result_file
    refused = isolated.client.get(url, headers={**headers, "Range": "bytes=5000-"})
    assert refused.status_code == 416 and refused.headers["Content-Range"] == "bytes */1024"
    assert refused.get_json()["error"]["code"] == "requested_range_not_satisfiable"


def test_a_method_not_allowed_is_a_405_json_error_with_allow(isolated):
    refused = isolated.client.put("/api/v1/jobs/0123")
    assert refused.status_code == 405 and refused.get_json()["error"]["code"] == "method_not_allowed"
    assert {"GET", "DELETE"} <= {m.strip() for m in refused.headers["Allow"].split(",")}


def test_a_result_file_carries_exactly_one_date_header(isolated, result_file):
    url, headers = result_file
    server = make_server("127.0.0.1", 0, isolated.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for extra in ({}, {"Range": "bytes=0-9"}):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            connection.request("GET", url, headers={**headers, **extra})
            response = connection.getresponse()
            response.read()
            assert response.status in (200, 206) and len(response.msg.get_all("Date")) == 1
            connection.close()
    finally:
        server.shutdown()
