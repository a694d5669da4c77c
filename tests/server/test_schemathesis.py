"""schemathesis over the server's own OpenAPI document, against a real server on 127.0.0.1, with every check it
has: for valid and invalid requests alike, no 5xx and no answer (status, content type, headers, body) the
document does not describe; every request the document calls valid is accepted, every other one refused (a 4xx);
methods a path does not take are a 405 with ``Allow``; the token is needed where the document says so.

100 examples per operation and generation mode, derandomized, and the coverage phase's cases: the same requests
on every run."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES as POSITIVE_STATUSES
from support.server import ADMIN, CONFIG, START, ServerThread, load

import tocsin
from tocsin.server import create_app, memory_storage

load_all_checks()
CHECKS = REGISTERED_CHECKS.get_all()  # all of them, the stateful ones included
EXAMPLES = 100
PLUGINS = tocsin.load_plugins()


def make_app():
    # The default body limit (1 MiB): generated bodies are valid or not by the schema, never by their size.
    document = CONFIG.replace("max_body_bytes: 4096", "max_body_bytes: 1048576")
    return create_app(load(document, PLUGINS), PLUGINS, storage=memory_storage(), clock=tocsin.ManualClock(START))


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
    # The token as the document's bearer scheme, so that a request generated without it is sent without it.
    # These bodies name what the config and the clock must agree with — a person or a policy the config has, a
    # time after now, an end after a start — which no schema can state: a body the document calls valid may
    # still be a 422 naming the field (these operations only; every other check still applies to them).
    judged = [
        "POST /v1/maintenance",
        "POST /v1/incidents/{incident_id}/reassign",
        "POST /v1/schedules/{schedule_id}/overrides",
        "POST /v1/schedules/{schedule_id}/swaps",
    ]
    settings = {
        "auth": {"openapi": {"bearer": {"bearer": ADMIN}}},
        "operations": [
            {
                "include-name": name,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "422"]}},
            }
            for name in judged
        ],
    }
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=SchemathesisConfig.from_dict(settings))
    loaded.validate()  # the document itself is valid OpenAPI 3.1
    return loaded


def test_the_document_lists_every_endpoint():
    assert len(OPERATIONS) >= 18
    assert ("POST", "/v1/incidents") in OPERATIONS and ("GET", "/v1/schedules/{schedule_id}.ics") in OPERATIONS


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_every_answer_matches_the_documented_schema(server, api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case):
        case.call_and_validate(base_url=server.url, checks=CHECKS)

    check()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_coverage_phase_finds_nothing(server, api_schema, method, path):
    # schemathesis' deterministic coverage cases: each boundary and empty value, each parameter missing, each
    # method the path does not take (OPTIONS too), valid and invalid bodies; every check on each answer.
    operation = api_schema[path][method]
    generation = api_schema.config.generation_for(operation=operation)
    cases = list(
        api_schema.iter_coverage_cases(operation, generation_modes=[POSITIVE, NEGATIVE], generation_config=generation)
    )
    assert cases
    for case in cases:
        case.call_and_validate(base_url=server.url, checks=CHECKS)
