"""The OpenAPI document describes exactly the routes the server has, with their methods."""

import re

from service.openapi import openapi_document


def _server_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def _documented_routes(document) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item if method != "parameters"}


def test_the_document_and_the_server_agree(isolated):
    assert _documented_routes(openapi_document()) == _server_routes(isolated.app)


def test_the_document_is_served_and_every_operation_has_an_id(isolated):
    document = isolated.client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    operations = [op for item in document["paths"].values() for method, op in item.items() if method != "parameters"]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all("responses" in op for op in operations)
