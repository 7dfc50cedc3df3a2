"""Pieces every part of the OpenAPI document is written with: a JSON response and the error responses."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def json_response(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_responses(*codes: int) -> dict:
    texts = {
        400: "bad input",
        401: "no or invalid credentials",
        404: "no such job or batch, or not yours",
        409: "not done yet",
        413: "too large",
        429: "rate limited",
        503: "queue unavailable",
    }
    return {str(code): json_response(ERROR, texts[code]) for code in codes}
