"""Polling a running service's job over HTTP, for the tests that start real processes (serve, production stack)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def get_json(url: str | urllib.request.Request) -> tuple[int, dict]:
    """(status, JSON body) of a request (a URL to GET, or a Request), error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_status(url: str, *statuses: str, within_s: float = 60) -> dict:
    """The job once its status is one of `statuses` (asserted)."""
    deadline = time.monotonic() + within_s
    while (state := get_json(url)[1])["status"] not in statuses and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state["status"] in statuses, state
    return state


def wait_for_stage(url: str, stage: str, within_s: float = 60) -> dict:
    """The job once its worker reports `stage` (or has gone past it: done or failed)."""
    deadline = time.monotonic() + within_s
    while (state := get_json(url)[1])["status"] not in ("done", "failed") and time.monotonic() < deadline:
        if state.get("stage") == stage:
            return state
        time.sleep(0.02)
    return state
