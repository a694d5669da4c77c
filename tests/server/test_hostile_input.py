"""Hostile input never costs the server: nesting deeper than any real document, lone surrogates, instants at
the edges of the calendar — each a 4xx with the JSON error shape, through real HTTP on 127.0.0.1, and /health
stays fast meanwhile. Error logs are plain text, never tracebacks rendered with their locals."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from support.server import CONFIG, RESPONDER, START, ServerThread, bearer, load
from support.store import plugins

import tocsin
from tocsin.server import create_app, memory_storage

DEEP = 100_000
BODIES = {
    "a deep array": b"[" * DEEP + b"]" * DEEP,
    "a deep object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "a deep payload inside an incident": (
        b'{"title": "t", "severity": "P1", "payload": ' + b"[" * 400 + b"]" * 400 + b"}"
    ),
    "a lone surrogate in a string": b'{"title": "disk \\ud800 full", "severity": "P1"}',
    "a lone surrogate in a key": b'{"title": "t", "severity": "P1", "labels": {"\\udfff": "x"}}',
}
ENDPOINTS = ["/v1/incidents", "/v1/rules/evaluate"]  # every JSON body is read by the same Call.json
EDGES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1000-01-01T00:00:00",
]
INSTANT_QUERIES = [
    ("/v1/schedules/primary-oncall/oncall", "at", {}),
    ("/v1/schedules/primary-oncall/shifts", "start", {"end": "2026-03-09T00:00:00Z"}),
    ("/v1/schedules/primary-oncall/shifts", "end", {"start": "2026-03-02T00:00:00Z"}),
]


@pytest.fixture(scope="module")
def server():
    document = CONFIG.replace("max_body_bytes: 4096", "max_body_bytes: 1048576")
    app = create_app(load(document, plugins()), plugins(), storage=memory_storage(), clock=tocsin.ManualClock(START))
    with ServerThread(app) as running:
        yield running


def send(server, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    headers = {**bearer(RESPONDER), "Content-Type": "application/json"}
    request = urllib.request.Request(f"{server.url}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def health_ms(server) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"{server.url}/health", timeout=10) as answer:
        assert answer.status == 200
    return (time.perf_counter() - started) * 1000


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("name", list(BODIES))
def test_a_hostile_body_is_a_4xx_with_the_error_shape(server, path, name):
    status, body = send(server, "POST", path, BODIES[name])
    assert 400 <= status < 500, body
    assert isinstance(body["error"], str) and isinstance(body["errors"], list)
    assert health_ms(server) < 1000  # still answering (the fast-path bound is checked below)


def test_nothing_is_raised_by_a_hostile_incident(server):
    before = send(server, "GET", "/v1/incidents?limit=200")[1]["incidents"]
    for name in BODIES:
        send(server, "POST", "/v1/incidents", BODIES[name])
    assert send(server, "GET", "/v1/incidents?limit=200")[1]["incidents"] == before


@pytest.mark.parametrize(("path", "name", "others"), INSTANT_QUERIES)
@pytest.mark.parametrize("edge", EDGES)
def test_an_instant_at_the_edge_of_the_calendar_is_a_422_naming_the_parameter(server, path, name, others, edge):
    query = urllib.parse.urlencode({**others, name: edge})
    status, body = send(server, "GET", f"{path}?{query}")
    assert status == 422, body
    assert body["errors"][0]["location"] == "query" and body["errors"][0]["path"] == name
    assert "must lie between 1900-01-01 and 3000-01-01" in body["errors"][0]["message"]


def test_health_answers_fast_while_hostile_bodies_arrive(server):
    for name in BODIES:
        send(server, "POST", "/v1/incidents", BODIES[name])
    timings = [health_ms(server) for _ in range(9)]
    assert statistics.median(timings) < 100, timings


def test_an_error_log_is_plain_json_with_a_plain_traceback_even_from_a_logger_made_at_import():
    script = (
        "import tocsin.escalation.transitions as t\n"  # its module-level logger exists before configuring
        "from tocsin.logs import configure_logging\n"
        "configure_logging()\n"  # stderr is a pipe: JSON lines
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    t._log.exception('boom', secret_local='x')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    record = json.loads(line)
    assert record["event"] == "boom" and record["component"] == "escalation"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in record["exception"]


@pytest.fixture(scope="module")
def impatient():
    document = CONFIG.replace("max_body_bytes: 4096", "max_body_bytes: 4096\n  body_timeout_seconds: 0.5")
    app = create_app(load(document, plugins()), plugins(), storage=memory_storage(), clock=tocsin.ManualClock(START))
    with ServerThread(app) as running:
        yield running


def test_a_body_shorter_than_its_content_length_is_a_408_and_health_stays_fast(impatient):
    host, port = urllib.parse.urlsplit(impatient.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as stalled:
        stalled.sendall(
            b"POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {RESPONDER}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"title": "'
        )
        timings = [health_ms(impatient) for _ in range(5)]  # while the stalled body holds its request open
        received = b""
        while chunk := stalled.recv(65536):  # the answer says Connection: close, so read it to the end
            received += chunk
        answer = received.decode()
    assert statistics.median(timings) < 100, timings
    status_line, _, rest = answer.partition("\r\n")
    assert status_line == "HTTP/1.1 408 Request Timeout", answer
    body = json.loads(rest.partition("\r\n\r\n")[2])
    assert body["error"] == "the request body did not arrive within 0.5 s"
