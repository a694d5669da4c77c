"""The OpenAPI 3.1 document, built from the endpoint table and the attrs models (see :mod:`.schema`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tocsin.models import Incident, MaintenanceMatch, Override, ScheduleLayer
from tocsin.registry import Registry
from tocsin.server.endpoints import Endpoint, QueryParam
from tocsin.server.errors import reason
from tocsin.server.guards import FIRST_YEAR, INSTANT_PATTERN, LAST_YEAR, QUERY_INSTANT_PATTERN
from tocsin.server.schema import SchemaBuilder
from tocsin.server.service import MAX_ID_LENGTH
from tocsin.server.views import (
    DURATION_PATTERN,
    MAX_NOTE,
    MAX_SNOOZE_MINUTES,
    RECORD_ID_PATTERN,
    MaintenanceRequest,
    NoteRequest,
    OverrideRequest,
    Problem,
    ReassignRequest,
    SnoozeRequest,
    SwapRequest,
)

__all__ = ["openapi_document"]

_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")
_LOCAL_TIME = "ISO 8601 date-time; without a UTC offset it is the schedule's local time"
_QUERY_TIME = f"{_LOCAL_TIME}; the year {FIRST_YEAR} to {LAST_YEAR}"
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _given(field: str, pattern: str | None = None) -> dict[str, Any]:
    """A ``oneOf`` branch: ``field`` is given, as a string (matching ``pattern``)."""
    text: dict[str, Any] = {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}
    return {"required": [field], "properties": {field: text}}


# Field schemas the types alone cannot say.
REFINEMENTS: dict[tuple[type, str], dict[str, Any]] = {
    (Incident, "id"): {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        "pattern": "^[^/]+$",
        "description": "default: a new UUID",
    },
    (SnoozeRequest, "minutes"): {"type": "integer", "minimum": 1, "maximum": MAX_SNOOZE_MINUTES},
    (ScheduleLayer, "start"): {"type": ["string", "null"], "description": _LOCAL_TIME},
    (Override, "start"): {"type": "string", "description": _LOCAL_TIME},
    (Override, "end"): {"type": "string", "description": _LOCAL_TIME},
    (NoteRequest, "text"): {"type": "string", "minLength": 1, "maxLength": MAX_NOTE},
    (OverrideRequest, "note"): {"type": "string", "maxLength": MAX_NOTE, "default": ""},
    (SwapRequest, "note"): {"type": "string", "maxLength": MAX_NOTE, "default": ""},
    (MaintenanceRequest, "reason"): {"type": "string", "maxLength": MAX_NOTE, "default": ""},
    (MaintenanceRequest, "duration"): {
        "type": ["string", "null"],
        "pattern": f"^{DURATION_PATTERN}$",
        "description": "a duration such as 30m, 2h or 1d",
    },
    (OverrideRequest, "id"): {"type": ["string", "null"], "pattern": f"^{RECORD_ID_PATTERN}$", "default": None},
    (MaintenanceRequest, "id"): {"type": ["string", "null"], "pattern": f"^{RECORD_ID_PATTERN}$", "default": None},
    (MaintenanceMatch, "labels"): {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "propertyNames": {"minLength": 1},
    },
    (ReassignRequest, ""): {"oneOf": [_given("user"), _given("policy")]},
    (MaintenanceRequest, ""): {"oneOf": [_given("end", INSTANT_PATTERN), _given("duration", f"^{DURATION_PATTERN}$")]},
}


def openapi_document(
    endpoints: Iterable[Endpoint], registry: Registry, *, version: str, open_api: bool
) -> dict[str, Any]:
    """The document for ``endpoints``; ``open_api`` (``auth: none``) leaves out the bearer requirement."""
    builder = SchemaBuilder(registry, REFINEMENTS)
    problem = {"application/json": {"schema": builder.schema(Problem, output=True)}}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.operation_id,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
        }
        description = endpoint.description
        secured = endpoint.scope is not None and not open_api
        if secured:
            assert endpoint.scope is not None
            needs = f"Needs a token with scope `{endpoint.scope.value}` (or wider)."
            description = f"{description}\n\n{needs}".strip()
            operation["security"] = [{"bearer": []}]
        else:
            operation["security"] = []
        if description:
            operation["description"] = description
        parameters = [_path_parameter(name) for name in _PATH_PARAM.findall(endpoint.path)]
        parameters += [_query_parameter(param) for param in endpoint.query]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": endpoint.body_required,
                "content": {"application/json": {"schema": builder.schema(endpoint.body, output=False)}},
            }
        success = _content(endpoint, builder)
        responses: dict[str, Any] = {str(endpoint.status): {"description": "success", "content": success}}
        for status, meaning in endpoint.answers.items():
            responses[str(status)] = {"description": meaning, "content": success}
        statuses = set(endpoint.errors) | ({401, 403} if secured else set())
        for status in sorted(statuses):
            content = _HTML if status in endpoint.html_errors else problem
            responses[str(status)] = {"description": reason(status), "content": content}
        operation["responses"] = responses
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tocsin",
            "version": version,
            "description": "Incident escalation: raise incidents, respond to them, see who is on call.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(builder.components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from the config's server.tokens; scopes read < respond < admin.",
                }
            },
        },
    }


def _content(endpoint: Endpoint, builder: SchemaBuilder) -> dict[str, Any]:
    if endpoint.response is not None:
        return {endpoint.media_type: {"schema": builder.schema(endpoint.response, output=True)}}
    if endpoint.media_type == "application/json":
        return {"application/json": {"schema": {"type": "object"}}}
    return {endpoint.media_type: {"schema": {"type": "string"}}}


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^/]+$"}}


def _query_parameter(param: QueryParam) -> dict[str, Any]:
    schema: dict[str, Any]
    if param.kind is bool:
        schema = {"type": "boolean"}
    elif param.kind is int:
        schema = {"type": "integer"}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    elif param.kind is datetime:
        schema = {"type": "string", "pattern": QUERY_INSTANT_PATTERN, "description": _QUERY_TIME}
    else:
        schema = {"type": "string"}
        if param.pattern is not None:
            schema["pattern"] = f"^(?:{param.pattern})$"
    if param.repeated:
        return {
            "name": param.name,
            "in": "query",
            "required": False,
            "description": param.description,
            "schema": {"type": "array", "items": schema},
            "style": "form",
            "explode": True,
        }
    return {"name": param.name, "in": "query", "required": False, "description": param.description, "schema": schema}
