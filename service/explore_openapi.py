"""The explorer's part of the OpenAPI document (/api/v1/explore/...), kept beside its routes' module."""

from __future__ import annotations

from service.openapi_parts import error_responses as _errors
from service.openapi_parts import json_response as _json

_CODE = {
    "name": "code",
    "in": "query",
    "required": True,
    "description": "a face: 50 hex digits, one per latent dimension (16 levels over [-1, 1])",
    "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{50}$"},
}
_AGE = {
    "name": "age",
    "in": "query",
    "description": "years; between the ten groups' centres the generator's conditions are interpolated",
    "schema": {"type": "number", "minimum": 0, "maximum": 100, "default": 40},
}
_GENDER = {
    "name": "gender",
    "in": "query",
    "schema": {"type": "string", "enum": ["male", "female"], "default": "female"},
}
_DIRECTIONS = {
    "type": "object",
    "required": ["code", "directions"],
    "properties": {
        "code": {"type": "string"},
        "directions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "name": {
                        "type": "string",
                        "description": "the measure it is named after, or 'unnamed direction N (weakly like ...)'",
                    },
                    "lower": {"type": "string", "description": "what a negative score looks like"},
                    "higher": {"type": "string", "description": "what a positive score looks like"},
                    "named": {"type": "boolean", "description": "whether a measure goes with it strongly enough"},
                    "named_after": {
                        "type": ["string", "null"],
                        "description": "the key of the measure its name and ends come from (weakly where not named)",
                    },
                    "correlation": {
                        "type": ["number", "null"],
                        "description": "|Pearson r| with the measure its name and ends come from",
                    },
                    "about": {"type": "string", "description": "why it is called what it is, in a sentence"},
                    "score": {"type": "number", "description": "in spreads of the training faces' scores"},
                },
            },
        },
    },
}
_NO_KEY = [{}]  # the explorer needs no API key


def explore_paths() -> dict:
    return {
        "/api/v1/explore/sample": {
            "get": {
                "summary": "Faces drawn from the prior, best first (MTCNN realism x age and gender agreement)",
                "operationId": "exploreSample",
                "security": _NO_KEY,
                "parameters": [
                    {
                        "name": "n",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8},
                    },
                    _AGE,
                    _GENDER,
                    {
                        "name": "seed",
                        "in": "query",
                        "description": "the same seed draws the same faces; random when left out",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["faces", "seed"],
                            "properties": {
                                "seed": {"type": "integer"},
                                "age": {"type": "number"},
                                "gender": {"type": "string"},
                                "faces": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["code", "score"],
                                        "properties": {
                                            "code": {"type": "string"},
                                            "score": {"type": "number", "minimum": 0, "maximum": 1},
                                            "realism": {"type": "number"},
                                            "estimated_age": {"type": "number"},
                                            "female_probability": {"type": "number"},
                                            "thumbnail": {"type": "string", "description": "64 px PNG data URL"},
                                            "url": {"type": "string", "description": "the face at 256 px"},
                                        },
                                    },
                                },
                            },
                        },
                        "the faces, best first",
                    ),
                    **_errors(400, 429),
                },
            }
        },
        "/api/v1/explore/face.png": {
            "get": {
                "summary": "A code's face at an age and gender, 256 px PNG; the same URL gives the same bytes",
                "operationId": "exploreFace",
                "security": _NO_KEY,
                "parameters": [_CODE, _AGE, _GENDER],
                "responses": {
                    "200": {"description": "the face", "content": {"image/png": {}}},
                    **_errors(400, 429),
                },
            }
        },
        "/api/v1/explore/directions": {
            "get": {
                "summary": "Where a code lies along the named directions",
                "operationId": "exploreDirections",
                "security": _NO_KEY,
                "parameters": [_CODE],
                "responses": {"200": _json(_DIRECTIONS, "the code's scores"), **_errors(400, 429)},
            }
        },
        "/api/v1/explore/steer": {
            "get": {
                "summary": "A code moved along one named direction to a score",
                "operationId": "exploreSteer",
                "security": _NO_KEY,
                "parameters": [
                    _CODE,
                    {"name": "direction", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "score",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "number", "minimum": -5, "maximum": 5},
                    },
                ],
                "responses": {"200": _json(_DIRECTIONS, "the new code and its scores"), **_errors(400, 429)},
            }
        },
        "/api/v1/explore/codes": {
            "post": {
                "summary": "A photo's largest face as a code (the photo is not kept)",
                "operationId": "exploreCodeOfPhoto",
                "security": _NO_KEY,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["photo"],
                                "properties": {"photo": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["code"],
                            "properties": {
                                "code": {"type": "string"},
                                "age": {"type": "number", "description": "the estimator's reading"},
                                "gender": {"type": "string", "enum": ["male", "female"]},
                                "url": {"type": "string"},
                            },
                        },
                        "the face's code",
                    ),
                    **_errors(400, 413, 429),
                },
            }
        },
    }
