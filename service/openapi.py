"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Written by hand as data, next to the routes it describes; a test checks that every route of the API
blueprint is described with its methods and that nothing described is missing from the server.
"""

from __future__ import annotations

from service.explore_openapi import explore_paths
from service.openapi_parts import error_responses as _errors
from service.openapi_parts import json_response as _json

_JOB = {"$ref": "#/components/schemas/Job"}
_BATCH = {"$ref": "#/components/schemas/Batch"}

_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
_BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OPTIONS = {
    "ages": {"type": "string", "description": "target ages, comma separated, 0-100", "example": "5,20,40,60,80"},
    "gender": {"type": "string", "enum": ["auto", "male", "female"], "default": "auto"},
}


def openapi_document() -> dict:

    return {
        "openapi": "3.1.0",
        "info": {"title": "Faceage API", "version": "1", "description": "Age the faces in photos (CAAE)."},
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "created with `faceage apikey create`"},
                "jobToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Job-Token",
                    "description": "the token given to the uploader of an anonymous job",
                },
            },
            "schemas": _schemas(),
        },
        "security": [{"apiKey": []}, {"jobToken": []}, {}],
        "paths": {
            "/api/v1/jobs": {
                "post": {
                    "summary": "Send a photo to age",
                    "operationId": "createJob",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["photo"],
                                    "properties": {
                                        "photo": {"type": "string", "format": "binary"},
                                        **_OPTIONS,
                                        "animate": {
                                            "type": "boolean",
                                            "default": False,
                                            "description": "also each face's life and the photo's, 0 to 100, as "
                                            "MP4 and GIF (results.lifespan), made after the stills: see Job.film",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json(_JOB, "accepted; `token` and `urls.page` when sent without an API key"),
                        "200": _json(_JOB, "the same photo was already sent with this key: that job"),
                        **_errors(400, 401, 413, 429, 503),
                    },
                }
            },
            "/api/v1/morphs": {
                "post": {
                    "summary": "Morph the face of one photo into that of another, at one age",
                    "operationId": "createMorph",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["photo_a", "photo_b"],
                                    "properties": {
                                        "photo_a": {"type": "string", "format": "binary"},
                                        "photo_b": {"type": "string", "format": "binary"},
                                        "age": {"type": "number", "minimum": 0, "maximum": 100, "default": 40},
                                        "gender": _OPTIONS["gender"],
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json(_JOB, "accepted: a job whose results.morph has the film, a GIF and a strip"),
                        **_errors(400, 401, 413, 429, 503),
                    },
                }
            },
            "/api/v1/jobs/{job_id}": {
                "parameters": [_JOB_ID],
                "get": {
                    "summary": "A job's status, progress, faces and result URLs",
                    "operationId": "readJob",
                    "responses": {"200": _json(_JOB, "the job"), **_errors(401, 404)},
                },
                "delete": {
                    "summary": "Delete the photo and every result now",
                    "operationId": "deleteJob",
                    "responses": {"204": {"description": "deleted"}, **_errors(401, 404)},
                },
            },
            "/api/v1/jobs/{job_id}/files/{name}": {
                "parameters": [_JOB_ID, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "One result image",
                    "operationId": "readJobFile",
                    "responses": {
                        "200": {"description": "the image", "content": {"image/jpeg": {}, "image/png": {}}},
                        **_errors(401, 404),
                    },
                },
            },
            "/api/v1/jobs/{job_id}/photo": {
                "parameters": [_JOB_ID],
                "get": {
                    "summary": "The photo as stored: upright, at the working size, without metadata",
                    "operationId": "readJobPhoto",
                    "responses": {
                        "200": {"description": "the photo", "content": {"image/jpeg": {}}},
                        **_errors(401, 404),
                    },
                },
            },
            "/api/v1/jobs/{job_id}/results.zip": {
                "parameters": [_JOB_ID],
                "get": {
                    "summary": "Every result and result.json in one zip",
                    "operationId": "readJobZip",
                    "responses": {
                        "200": {"description": "zip", "content": {"application/zip": {}}},
                        **_errors(401, 404, 409),
                    },
                },
            },
            "/api/v1/batches": {
                "post": {
                    "summary": "Send many photos (files or one zip); needs an API key",
                    "operationId": "createBatch",
                    "security": [{"apiKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                                        "archive": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": "a zip of photos",
                                        },
                                        **_OPTIONS,
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json(_BATCH, "accepted; unusable files are failed items"),
                        **_errors(400, 401, 413, 429, 503),
                    },
                }
            },
            "/api/v1/batches/{batch_id}": {
                "parameters": [_BATCH_ID],
                "get": {
                    "summary": "A batch's items and their status",
                    "operationId": "readBatch",
                    "security": [{"apiKey": []}],
                    "responses": {"200": _json(_BATCH, "the batch"), **_errors(401, 404)},
                },
                "delete": {
                    "summary": "Delete the batch, its jobs and every upload and result of them now",
                    "operationId": "deleteBatch",
                    "security": [{"apiKey": []}],
                    "responses": {"204": {"description": "deleted"}, **_errors(401, 404)},
                },
            },
            "/api/v1/batches/{batch_id}/results.zip": {
                "parameters": [_BATCH_ID],
                "get": {
                    "summary": "Every finished item's results in the input's tree, and summary.json",
                    "operationId": "readBatchZip",
                    "security": [{"apiKey": []}],
                    "responses": {
                        "200": {"description": "zip", "content": {"application/zip": {}}},
                        **_errors(401, 404),
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "security": [{}],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            **explore_paths(),
        },
    }


def _schemas() -> dict:
    url = {"type": "string"}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "Job": {
            "type": "object",
            "required": ["id", "status", "progress", "urls"],
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "stage": {"type": "string"},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "ages": {"type": "array", "items": {"type": "number"}},
                "gender": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "error": {
                    "oneOf": [
                        {"type": "null"},
                        {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
                    ]
                },
                "token": {"type": "string"},
                "duplicate": {"type": "boolean"},
                "animate": {"type": "boolean", "description": "whether the job asked for the lifespan film"},
                "film": {
                    "description": "the lifespan film of a job sent with animate=true (null otherwise). It is made "
                    "after the stills: the job is `done` as soon as its stills are, while `film.state` is still "
                    "pending or running; poll until it is done (then results.lifespan is there) or failed. A failed "
                    "film leaves the job done with its stills, and says why in `film.error`.",
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["state", "progress"],
                            "properties": {
                                "state": {"type": "string", "enum": ["pending", "running", "done", "failed"]},
                                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                                "error": {
                                    "oneOf": [
                                        {"type": "null"},
                                        {
                                            "type": "object",
                                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                                        },
                                    ]
                                },
                            },
                        },
                    ],
                },
                "faces": {"type": "array", "items": {"type": "object"}},
                "results": {
                    "type": "object",
                    "properties": {
                        "composites": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"age": {"type": "number"}, "url": url}},
                        },
                        "faces": {"type": "array", "items": {"type": "object"}},
                        "lifespan": {
                            "type": "object",
                            "description": "the lifespan film (MP4 of the photo, MP4 and GIF of each face), once "
                            "`film.state` is done",
                        },
                        "zip": url,
                    },
                },
                "urls": {"type": "object", "properties": {"self": url, "page": url}},
            },
        },
        "Batch": {
            "type": "object",
            "required": ["id", "status", "items"],
            "properties": {
                "id": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["running", "done"],
                    "description": "done once every item left is done or failed (also when all were deleted)",
                },
                "counts": {"type": "object"},
                "progress": {"type": "number"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "job": {"type": "string"},
                            "status": {"type": "string"},
                            "url": url,
                        },
                    },
                },
                "urls": {"type": "object", "properties": {"self": url, "results": url}},
            },
        },
    }
