"""schemathesis over the server's own OpenAPI document, against a real server on 127.0.0.1: for valid and
invalid requests alike, no 5xx and no answer (status, content type, headers, body) the document does not
describe."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.server import ADMIN, CONFIG, START, ServerThread, bearer, load

import tocsin
from tocsin.server import create_app, memory_storage

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PLUGINS = tocsin.load_plugins()


def make_app():
    return create_app(load(CONFIG, PLUGINS), PLUGINS, storage=memory_storage(), clock=tocsin.ManualClock(START))


DOCUMENT = json.loads(make_app().state.openapi)
OPERATIONS = [(method.upper(), path) for path, methods in DOCUMENT["paths"].items() for method in methods]
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE


def takes_input(method: str, path: str) -> bool:
    """Invalid requests only exist for operations with a body or query parameters (a path parameter is any
    segment)."""
    operation = DOCUMENT["paths"][path][method.lower()]
    return "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", ()))


CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (POSITIVE, NEGATIVE)
    if mode is POSITIVE or takes_input(method, path)
]


@pytest.fixture(scope="module")
def server():
    with ServerThread(make_app()) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(server):
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    loaded.validate()  # the document itself is valid OpenAPI 3.1
    return loaded


def test_the_document_lists_every_endpoint():
    assert len(OPERATIONS) >= 18
    assert ("POST", "/v1/incidents") in OPERATIONS and ("GET", "/v1/schedules/{schedule_id}.ics") in OPERATIONS


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_every_answer_matches_the_documented_schema(server, api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case):
        case.call_and_validate(base_url=server.url, headers=bearer(ADMIN), checks=CHECKS)

    check()
