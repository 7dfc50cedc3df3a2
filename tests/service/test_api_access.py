"""Who may open a job or a batch, as tables. A key or token that is not valid is a 401; a valid one that does
not open this job or batch is a 404, the same as for an id that does not exist, so ids reveal nothing. A job
opens to its uploader's token or to the API key that created it; a batch only to its key.

Each case runs on an app of its own (`isolated`): access is decided before any work, so no job has to be aged.
"""

import io
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from service import jobs
from service.auth import create_api_key
from service.models import ApiKey, utcnow

RESULT_FILE = "photo-age-040.jpg"
ERROR_CODES = {401: "unauthorized", 404: "not_found"}


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


# What each caller sends: (headers, query string), from the owner's job and the keys made for the test.
CALLERS = {
    "nobody": lambda c: ({}, {}),
    "a header that is not a Bearer key": lambda c: ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
    "a key that never existed": lambda c: (_bearer("fa_not_a_key"), {}),
    "a revoked key": lambda c: (_bearer(c.revoked_key), {}),
    "a revoked key with the job's token": lambda c: ({**_bearer(c.revoked_key), "X-Job-Token": c.token}, {}),
    "another API key": lambda c: (_bearer(c.other_key), {}),
    "a wrong token": lambda c: ({"X-Job-Token": "guess"}, {}),
    "another job's token": lambda c: ({"X-Job-Token": c.other_token}, {}),
    "the job's token": lambda c: ({"X-Job-Token": c.token}, {}),
    "the job's token in the query string": lambda c: ({}, {"token": c.token}),
    "the key that created it": lambda c: (_bearer(c.owner_key), {}),
}


def _revoked_key(database) -> str:
    key = create_api_key(database, "revoked")
    with database.session() as session:
        session.execute(update(ApiKey).where(ApiKey.name == "revoked").values(revoked_at=utcnow()))
    return key


def _post_photo(client, content: bytes, headers: dict) -> dict:
    reply = client.post(
        "/api/v1/jobs",
        data={"photo": (io.BytesIO(content), "photo.jpg"), "ages": "40"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert reply.status_code == 202, reply.get_json()
    return reply.get_json()


@pytest.fixture
def callers(isolated, astronaut_jpeg) -> SimpleNamespace:
    """A finished job with one result file, created with the owner's key; another job; the keys of the table."""
    owner_key, other_key = create_api_key(isolated.database, "owner"), create_api_key(isolated.database, "other")
    job = _post_photo(isolated.client, astronaut_jpeg, _bearer(owner_key))
    other_job = _post_photo(isolated.client, astronaut_jpeg, {})  # without a key: a job of its own
    result = SimpleNamespace(
        name=RESULT_FILE, kind="composite", face=None, age=40.0, content_type="image/jpeg", content=b"aged"
    )
    document = {"faces": [], "composites": [{"age": 40.0, "file": RESULT_FILE}]}
    jobs.store_results(isolated.database, job["id"], document, [result])  # as a worker would have
    return SimpleNamespace(
        job_url=job["urls"]["self"],
        token=job["token"],
        other_token=other_job["token"],
        owner_key=owner_key,
        other_key=other_key,
        revoked_key=_revoked_key(isolated.database),
    )


JOB_ENDPOINTS = [
    pytest.param("GET", "", id="read"),
    pytest.param("GET", f"/files/{RESULT_FILE}", id="a file"),
    pytest.param("GET", "/results.zip", id="the zip"),
    pytest.param("DELETE", "", id="delete"),
]
BATCH_ENDPOINTS = [pytest.param("", id="read"), pytest.param("/results.zip", id="the zip")]
OPENED = {"GET": 200, "DELETE": 204}


@pytest.mark.parametrize("method, endpoint", JOB_ENDPOINTS)
@pytest.mark.parametrize(
    "caller, status",
    [
        ("nobody", 401),
        ("a header that is not a Bearer key", 401),
        ("a key that never existed", 401),
        ("a revoked key", 401),
        ("a revoked key with the job's token", 401),  # a key that is sent must be valid, whatever else is
        ("another API key", 404),
        ("a wrong token", 404),
        ("another job's token", 404),
        ("the job's token", "opened"),
        ("the job's token in the query string", "opened"),
        ("the key that created it", "opened"),
    ],
)
def test_a_job_opens_to_its_token_or_its_key_and_to_no_one_else(isolated, callers, method, endpoint, caller, status):
    headers, query = CALLERS[caller](callers)
    reply = isolated.client.open(callers.job_url + endpoint, method=method, headers=headers, query_string=query)
    if status == "opened":
        assert reply.status_code == OPENED[method], reply.get_json()
    else:
        assert reply.status_code == status and reply.get_json()["error"]["code"] == ERROR_CODES[status]


@pytest.mark.parametrize("method, endpoint", JOB_ENDPOINTS)
@pytest.mark.parametrize("caller", ["the job's token", "the key that created it"])
def test_a_job_id_that_does_not_exist_is_a_404_to_any_valid_caller(isolated, callers, method, endpoint, caller):
    headers, query = CALLERS[caller](callers)
    url = "/api/v1/jobs/0123456789abcdef0123456789abcdef" + endpoint
    reply = isolated.client.open(url, method=method, headers=headers, query_string=query)
    assert reply.status_code == 404 and reply.get_json()["error"]["code"] == "not_found"


@pytest.fixture
def batch(callers, isolated, astronaut_jpeg) -> str:
    """The URL of a batch of one photo, created with the owner's key."""
    reply = isolated.client.post(
        "/api/v1/batches",
        data={"photos": [(io.BytesIO(astronaut_jpeg), "a.jpg")]},
        headers=_bearer(callers.owner_key),
        content_type="multipart/form-data",
    )
    assert reply.status_code == 202, reply.get_json()
    return reply.get_json()["urls"]["self"]


@pytest.mark.parametrize("endpoint", BATCH_ENDPOINTS)
@pytest.mark.parametrize(
    "caller, status",
    [
        ("nobody", 401),
        ("a header that is not a Bearer key", 401),
        ("a key that never existed", 401),
        ("a revoked key", 401),
        ("the job's token", 401),  # batches need an API key: a job's token opens only its job
        ("another API key", 404),
        ("the key that created it", 200),
    ],
)
def test_a_batch_opens_to_the_key_that_created_it_only(isolated, callers, batch, endpoint, caller, status):
    headers, query = CALLERS[caller](callers)
    reply = isolated.client.get(batch + endpoint, headers=headers, query_string=query)
    assert reply.status_code == status
    if status != 200:
        assert reply.get_json()["error"]["code"] == ERROR_CODES[status]


@pytest.mark.parametrize(
    "caller, status",
    [
        ("nobody", 401),
        ("a key that never existed", 401),
        ("a revoked key", 401),
        ("the job's token", 401),
        ("another API key", 404),
        ("the key that created it", 204),
    ],
)
def test_a_batch_is_deleted_by_the_key_that_created_it_only(isolated, callers, batch, caller, status):
    headers, query = CALLERS[caller](callers)
    reply = isolated.client.delete(batch, headers=headers, query_string=query)
    assert reply.status_code == status
    if status != 204:
        assert reply.get_json()["error"]["code"] == ERROR_CODES[status]
    still_there = isolated.client.get(batch, headers=_bearer(callers.owner_key)).status_code
    assert still_there == (404 if status == 204 else 200)


@pytest.mark.parametrize("endpoint", BATCH_ENDPOINTS)
def test_a_batch_id_that_does_not_exist_is_a_404_to_a_valid_key(isolated, callers, endpoint):
    reply = isolated.client.get(f"/api/v1/batches/0123456789abcdef{endpoint}", headers=_bearer(callers.owner_key))
    assert reply.status_code == 404 and reply.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("caller", ["nobody", "a key that never existed", "a revoked key", "the job's token"])
def test_a_batch_without_a_valid_key_is_refused_before_anything_is_queued(isolated, callers, astronaut_jpeg, caller):
    headers, _query = CALLERS[caller](callers)
    queued_before = list(isolated.enqueued)
    reply = isolated.client.post(
        "/api/v1/batches",
        data={"photos": [(io.BytesIO(astronaut_jpeg), "a.jpg")]},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert reply.status_code == 401 and reply.get_json()["error"]["code"] == "unauthorized"
    assert isolated.enqueued == queued_before


def test_the_cli_revokes_every_key_of_a_name_and_they_open_nothing_after(isolated, callers):
    from click.testing import CliRunner

    from faceage_cli import main

    cli = CliRunner(
        env={"FACEAGE_DATA_DIR": isolated.settings.data_dir, "FACEAGE_DATABASE_URL": isolated.settings.database_url}
    )
    second_owner_key = create_api_key(isolated.database, "owner")  # names need not be unique
    for key in (callers.owner_key, second_owner_key):
        assert isolated.client.get(callers.job_url, headers=_bearer(key)).status_code in (200, 404)
    revoked = cli.invoke(main, ["apikey", "revoke", "owner"])
    assert revoked.exit_code == 0, revoked.output
    assert "2" in revoked.output and "owner" in revoked.output
    for key in (callers.owner_key, second_owner_key):
        refused = isolated.client.get(callers.job_url, headers=_bearer(key))
        assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert isolated.client.get(callers.job_url, headers=_bearer(callers.other_key)).status_code == 404  # untouched
    again = cli.invoke(main, ["apikey", "revoke", "owner"])
    assert again.exit_code != 0 and "no API key" in again.output
