"""Two ways to run the web app in a test.

`embedded`, `client`, `live_server`: the embedded default for real, shared by the whole session: SQLite database,
SQLite broker, and a Celery worker process consuming it. For the paths where a job must be aged.

`isolated`: a web app of the test's own on a fresh SQLite database, with no broker and no worker. For what the
app answers by itself (access, parsing, refusals, limits): fast, and nothing leaks from one test to the next.
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.app import create_app
from service.config import Settings
from service.database import Database


def _start_worker(env: dict) -> subprocess.Popen:
    """A Celery worker process (one pool process) on the settings in `env`; its output is discarded."""
    from faceage_cli.serving import worker_argv

    argv = [sys.executable, *worker_argv(Settings.from_env(env), concurrency=1, beat=False)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def embedded(tmp_path_factory):
    """Settings, database and a running worker for the whole test session."""
    data_dir = tmp_path_factory.mktemp("faceage-data")
    env = {
        **os.environ,
        "FACEAGE_DATA_DIR": str(data_dir),
        "FACEAGE_DEVICE": "cpu",
        "FACEAGE_REQUEUE_QUEUED_AFTER_S": "3",
        "FACEAGE_RATE_LIMIT": "1000/minute",
    }  # the rate limit has its own test
    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    database.upgrade()
    worker = _start_worker(env)
    yield settings, database, env
    stop(worker)


@pytest.fixture(scope="session")
def client(embedded):
    settings, _database, _env = embedded
    return create_app(settings).test_client()


@pytest.fixture(scope="session")
def live_server(embedded):
    """The web app on a real port (for clients that speak HTTP), in a thread of the test process."""
    import threading

    from werkzeug.serving import make_server

    settings, _database, _env = embedded
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def start_worker():
    """Start a real Celery worker process with this environment (FACEAGE_* settings)."""
    return _start_worker


@pytest.fixture(scope="session")
def wait_for_job():
    return _wait_for_job


def _wait_for_job(client, job_id: str, headers: dict, timeout: float = 180) -> dict:
    """Poll the API until the job is done or failed, as a client would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


@dataclass
class IsolatedService:
    """A web app of one test's own. What it would send to the workers is recorded in `enqueued` instead, so a
    test can say what was queued, or that nothing was."""

    settings: Settings
    database: Database
    app: Flask
    client: FlaskClient
    enqueued: list[str]

    def client_with(self, **changes) -> FlaskClient:
        """A client of another app on the same database and queue, with these settings changed."""
        return create_app(replace(self.settings, **changes), enqueue=self.enqueued.append).test_client()


@pytest.fixture(scope="session")
def fresh_database(tmp_path_factory) -> Callable[[str], Database]:
    """`fresh_database(url)`: an empty SQLite database at the newest schema, at that URL. The migrations run once a
    session, into a template that every test copies: a copy takes milliseconds, migrating most of a second."""
    template = tmp_path_factory.mktemp("migrated") / "faceage.sqlite"
    migrated = Database(f"sqlite:///{template}")
    migrated.upgrade()
    migrated.reclaim()  # everything into the file itself, none left in the write-ahead log
    migrated.dispose()

    def copy_to(url: str) -> Database:
        database = Database(url)  # makes its folder, private as in production
        shutil.copyfile(template, url.split("///", 1)[1])
        return database

    return copy_to


@pytest.fixture
def isolated(tmp_path, fresh_database) -> IsolatedService:
    """The web app on a database of this test's own, with a queue that only records."""
    settings = Settings(data_dir=str(tmp_path / "data"))
    database = fresh_database(settings.database_url)
    enqueued: list[str] = []
    app = create_app(settings, enqueue=enqueued.append)
    yield IsolatedService(settings, database, app, app.test_client(), enqueued)
    database.dispose()


# The pages in a real browser: Debian's chromium, driven by Playwright (which never downloads a browser here).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, chromium keeps trying to reach Google's services from a machine with no internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies or cache from other tests) and its page."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


# The pages at the sizes people see them: a phone (an iPhone 12-15's viewport) and a laptop.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def site(tmp_path_factory, fresh_database):
    """The web app on a real port, with its settings and database, and no worker: jobs are queued to nowhere, and a
    test that needs a job in some state puts it there itself."""
    import threading

    from werkzeug.serving import make_server

    settings = Settings(data_dir=str(tmp_path_factory.mktemp("pages")), rate_limit="1000/minute")
    database = fresh_database(settings.database_url)
    server = make_server("127.0.0.1", 0, create_app(settings, enqueue=lambda job_id: None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", settings, database
    server.shutdown()
    database.dispose()


@pytest.fixture
def url(site) -> str:
    return site[0]


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def sized_page(request, browser):
    """A page in a fresh context at phone size, then at desktop size."""
    context = browser.new_context(viewport=request.param)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def serious_violations() -> Callable:
    """`serious_violations(page)`: what axe-core (bundled by axe-playwright-python, so it runs offline) finds serious
    or critical on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def find(page) -> list[str]:
        violations = axe.run(page).response["violations"]
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        return [f"{v['id']}: {[node['target'] for node in v['nodes']]}" for v in serious]

    return find
