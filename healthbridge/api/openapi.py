"""A fuller OpenAPI description of the generic FHIR routes.

FastAPI only sees ``{rtype}``/``{rid}`` path strings and a raw body dependency, so its generated
description says nothing about FHIR. This module completes it once, when the schema is first
requested: resource types as an enum, the FHIR ``id`` pattern, the request bodies (a resource, a
batch/transaction Bundle, a ``Parameters`` for operations, a form for ``_search``), the headers
of http.html (``If-Match``, ``If-None-Exist``, ``Prefer``), the common search and history
parameters, and that every error is an ``OperationOutcome``. It documents the API for clients
and lets schemathesis generate meaningful requests (tests/healthbridge/api/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from healthbridge.fhir import r4

FHIR_JSON = "application/fhir+json"

_ID = {"type": "string", "pattern": "^[A-Za-z0-9\\-\\.]{1,64}$"}
_OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}


def _types() -> list[str]:
    return sorted(r4.SUPPORTED_TYPES)


def _resource_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": {"type": "string", "enum": _types()},
            "id": _ID,
            "meta": {"type": "object"},
        },
        "additionalProperties": True,
    }


def _bundle_schema() -> dict[str, Any]:
    request = {
        "type": "object",
        "required": ["method", "url"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "POST", "PUT", "DELETE"]},
            "url": {"type": "string"},
            "ifNoneExist": {"type": "string"},
            "ifMatch": {"type": "string"},
        },
    }
    entry = {
        "type": "object",
        "properties": {
            "fullUrl": {"type": "string"},
            "resource": _resource_schema(),
            "request": request,
        },
    }
    return {
        "type": "object",
        "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string", "enum": ["batch", "transaction"]},
            "entry": {"type": "array", "items": entry},
        },
    }


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "content": {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


_PREFER = _header(
    "Prefer",
    {
        "type": "string",
        "enum": [
            "return=minimal",
            "return=representation",
            "return=OperationOutcome",
            "handling=lenient",
        ],
    },
    "http.html#return and search handling",
)
_SEARCH = [
    _query("_count", {"type": "integer", "minimum": 0}, "page size"),
    _query("_offset", {"type": "integer", "minimum": 0}, "page offset"),
    _query("_sort", {"type": "string"}, "comma-separated sort parameters, '-' descending"),
    _query("_summary", {"type": "string", "enum": ["count", "data", "false"]}, "summary"),
    _query("_elements", {"type": "string"}, "comma-separated top-level elements"),
    _query("_include", {"type": "string"}, "Type:param[:Target] or *"),
    _query("_revinclude", {"type": "string"}, "Type:param[:Target] or *"),
    _query("_id", {"type": "string"}, "logical id(s)"),
    _query("_lastUpdated", {"type": "string"}, "date with prefix (eq, lt, ge ...)"),
    _query("identifier", {"type": "string"}, "token: [system|]code"),
    _query("patient", {"type": "string"}, "reference to a Patient"),
    _query("subject", {"type": "string"}, "reference"),
    _query("date", {"type": "string"}, "date with prefix"),
    _query("code", {"type": "string"}, "token: [system|]code"),
    _query("name", {"type": "string"}, "string (prefix match)"),
    _query("birthdate", {"type": "string"}, "date with prefix"),
    _query("value-quantity", {"type": "string"}, "[prefix]value|system|code"),
]
_HISTORY = [
    _query("_count", {"type": "integer", "minimum": 0}, "page size"),
    _query("_offset", {"type": "integer", "minimum": 0}, "page offset"),
    _query("_since", {"type": "string", "format": "date-time"}, "only versions since"),
]


def _enrich(schema: dict[str, Any]) -> None:
    types = {"type": "string", "enum": _types()}
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = op.setdefault("parameters", [])
            for p in params:
                if p["in"] != "path":
                    continue
                if p["name"] == "rtype" or path == "/fhir/{name}":
                    p["schema"] = dict(types)
                    p["description"] = "resource type (system $operations also match {name})"
                elif p["name"] == "rid":
                    p["schema"] = dict(_ID)
                elif p["name"] == "vid":
                    p["schema"] = {"type": "string", "pattern": "^[0-9]{1,9}$"}
                elif p["name"] == "name":
                    p["schema"] = {"type": "string", "pattern": "^\\$[a-z][a-z-]*$"}
            _enrich_operation(path, method, op, params)
            op["responses"]["default"] = {
                "description": "Error: an OperationOutcome",
                "content": {FHIR_JSON: {"schema": _OUTCOME}},
            }


def _enrich_operation(path: str, method: str, op: dict[str, Any], params: list[Any]) -> None:
    op_id = op.get("operationId", "")
    if path == "/fhir/" and method == "post":
        op["requestBody"] = _body(_bundle_schema())
        params.append(_PREFER)
    elif op_id == "create":
        op["requestBody"] = _body(_resource_schema())
        params.append(_header("If-None-Exist", {"type": "string"}, "conditional create"))
        params.append(_PREFER)
    elif op_id == "search_type":
        params.extend(_SEARCH)
        params.append(_PREFER)
    elif path.endswith("/_search"):
        form = {"type": "object", "additionalProperties": {"type": "string"}}
        op["requestBody"] = {
            "required": False,
            "content": {"application/x-www-form-urlencoded": {"schema": form}},
        }
    elif path.endswith("_history"):
        params.extend(_HISTORY)
    elif method == "put":
        op["requestBody"] = _body(_resource_schema())
        if path.endswith("{rid}"):
            etag = {"type": "string", "pattern": '^W/"[0-9]{1,9}"$'}
            params.append(_header("If-Match", etag, "expected version (412 when stale)"))
        params.append(_PREFER)
    elif method == "post" and op_id in ("type_operation", "instance_op_post"):
        parameters = {
            "type": "object",
            "properties": {
                "resourceType": {"type": "string", "enum": ["Parameters"]},
                "parameter": {"type": "array", "items": {"type": "object"}},
            },
        }
        op["requestBody"] = _body(parameters, required=False)


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the enriched description (built once, cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _enrich(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
