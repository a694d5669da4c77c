"""Hostile input never costs the server: nesting deeper than any real document, lone surrogates, numbers JSON
cannot write back, instants at the edges of the calendar, bodies that stall or are too large — each a 4xx with
the JSON error shape, through real HTTP to a server on 127.0.0.1, with nothing changed. While the slow cases run
(a stalled body, a regex that backtracks until its timeout), /health stays fast. Error logs are plain text,
never tracebacks rendered with their locals."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.server import ADMIN, CONFIG, START, ServerThread, bearer, load

import tocsin
from tocsin.server import create_app, memory_storage

LIMIT = 1_048_576  # server.max_body_bytes here
WAIT = 0.5  # server.body_timeout_seconds here: how long a stalled body may hold its request
PROMETHEUS = "prometheus-token-0123456789abcdef"
SETTINGS = f"max_body_bytes: {LIMIT}\n  body_timeout_seconds: {WAIT}\n  ack_rate_limit: {{per_minute: 1000}}"
INTEGRATIONS = f"""
integrations:
  prometheus: {{type: alertmanager, token: {PROMETHEUS}}}
"""
DOCUMENT = CONFIG.replace("max_body_bytes: 4096\n  ack_rate_limit: {per_minute: 3}", SETTINGS) + INTEGRATIONS

P1 = {"title": "Disk full on db-1", "severity": "P1"}
DEEP = 100_000
INCIDENT = b'{"title": "t", "severity": "P1", '

# name -> (body, status, the JSONPath a 422 names)
BODIES: dict[str, tuple[bytes, int, str | None]] = {
    "100 000 nested arrays": (b"[" * DEEP + b"]" * DEEP, 400, None),
    "100 000 nested objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, 400, None),
    "100 000 arrays never closed": (b"[" * DEEP, 400, None),
    "a payload nesting 400 deep": (INCIDENT + b'"payload": ' + b"[" * 400 + b"]" * 400 + b"}", 400, None),
    "a payload nesting 65 deep": (INCIDENT + b'"payload": ' + b"[" * 65 + b"]" * 65 + b"}", 400, None),
    "a flood of escaped quotes": (b'"' + b'\\"' * 400_000, 400, None),
    "a lone high surrogate in a value": (INCIDENT + b'"by": "disk \\ud800 full"}', 422, "$.by"),
    "a lone low surrogate in a key": (INCIDENT + b'"labels": {"\\uDFFF": "x"}}', 422, "$.labels.\\udfff"),
    "a lone surrogate deep in a list": (INCIDENT + b'"payload": [[1, ["ok", "\\udbff"]]]}', 422, "$.payload[0][1][1]"),
    "a number too large for a float": (INCIDENT + b'"payload": 1e999}', 400, None),
    "an integer of 5000 digits": (INCIDENT + b'"payload": ' + b"7" * 5000 + b"}", 400, None),
    "NaN": (INCIDENT + b'"payload": NaN}', 400, None),
}
BODY_ENDPOINTS = [
    "/v1/incidents",
    "/v1/rules/evaluate",
    "/v1/incidents/target/acknowledge",
    "/v1/incidents/target/snooze",
    "/v1/incidents/target/escalate",
    "/v1/incidents/target/resolve",
    "/v1/incidents/target/cancel",
    "/v1/integrations/prometheus",
]
EDGES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999+00:00",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
]
LOCAL_EDGES = ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00"]  # a query's: the schedule's time
INSIDE = ["1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59.999999-14:00", "1900-01-01T00:00", "2999-12-31T23:59"]
NOT_INSTANTS = ["0001-01-01", "2026-03-02 14:00:00Z", "2026-03-02T24:00:00Z", "2026-02-29T00:00:00Z", "now", ""]
INSTANT_QUERIES = [
    ("/v1/schedules/primary-oncall/oncall", "at", {}),
    ("/v1/schedules/primary-oncall/shifts", "start", {"end": "2026-03-09T00:00:00Z"}),
    ("/v1/schedules/primary-oncall/shifts", "end", {"start": "2026-03-02T00:00:00Z"}),
    ("/v1/schedules/primary-oncall.ics", "start", {"end": "2026-03-09T00:00:00Z"}),
    ("/v1/schedules/primary-oncall.ics", "end", {"start": "2026-03-02T00:00:00Z"}),
]
# Percent-escapes of a lone surrogate (ED A0 80 is not UTF-8): decoded with replacement, never as a surrogate.
NOT_TEXT = "%ED%A0%80"
ODD_URLS = [
    ("GET", f"/v1/incidents/{NOT_TEXT}", 404),
    ("GET", f"/v1/escalations/{NOT_TEXT}", 404),
    ("GET", f"/v1/policies/{NOT_TEXT}", 404),
    ("GET", f"/v1/schedules/{NOT_TEXT}/oncall", 404),
    ("GET", f"/v1/schedules/{NOT_TEXT}.ics", 404),
    ("POST", f"/v1/integrations/{NOT_TEXT}", 404),
    ("POST", f"/v1/incidents/{NOT_TEXT}/acknowledge", 404),
    ("GET", f"/v1/schedules/primary-oncall/oncall?at={NOT_TEXT}", 422),
    ("GET", f"/v1/schedules/primary-oncall/shifts?start={NOT_TEXT}", 422),
    ("GET", f"/v1/incidents?limit={NOT_TEXT}", 422),
    ("GET", f"/v1/incidents?open={NOT_TEXT}", 422),
    ("POST", f"/v1/integrations/prometheus?token={NOT_TEXT}", 401),
]


def make_server(document: str) -> ServerThread:
    plugins = tocsin.load_plugins()
    app = create_app(load(document, plugins), plugins, storage=memory_storage(), clock=tocsin.ManualClock(START))
    return ServerThread(app)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with make_server(DOCUMENT) as running:
        status, body = send(running, "POST", "/v1/incidents", json.dumps({"id": "target", **P1}).encode())
        assert status == 201, body
        yield running


def send(server: ServerThread, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """``(status, parsed JSON answer)`` (a calendar's text as it is); an error that is not JSON fails the
    test. The token is the integration's under /v1/integrations/ (none when the query has one), else admin."""
    token = PROMETHEUS if path.startswith("/v1/integrations/") else ADMIN
    headers = {"Content-Type": "application/json", **({} if "token=" in path else bearer(token))}
    request = urllib.request.Request(f"{server.url}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if answer.headers.get_content_type() == "application/json" else text
    except urllib.error.HTTPError as error:
        assert error.headers.get_content_type() == "application/json", error.headers
        return error.code, json.loads(error.read())


def assert_error_shape(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["errors"], list), body


def health_ms(server: ServerThread) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"{server.url}/health", timeout=30) as answer:
        assert answer.status == 200
    return (time.perf_counter() - started) * 1000


def health_while(server: ServerThread, slow: Callable[[], object], *, rounds: int = 3) -> list[float]:
    """/health timings, one call after another, for as long as two threads keep ``slow()`` requests in flight
    back to back, until ``rounds`` of them were answered (so the timings span whole slow requests)."""
    done = threading.Event()
    answered = threading.Semaphore(0)

    def keep_busy() -> None:
        while not done.is_set():
            slow()
            answered.release()

    workers = [threading.Thread(target=keep_busy, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    timings: list[float] = []
    try:
        for _ in range(rounds):
            while not answered.acquire(blocking=False):
                timings.append(health_ms(server))
        return timings
    finally:
        done.set()
        for worker in workers:
            worker.join(timeout=60)


def incidents_and_state(server: ServerThread) -> tuple[Any, Any]:
    return send(server, "GET", "/v1/incidents?limit=500")[1]["incidents"], send(server, "GET", "/v1/incidents/target")


# --- bodies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("name", list(BODIES))
def test_a_hostile_body_is_a_4xx_with_the_error_shape(server, path, name):
    raw, expected, where = BODIES[name]
    status, body = send(server, "POST", path, raw)  # within the client's timeout: no stall, no recursion
    assert_error_shape(status, body, expected)
    if where is not None:
        assert [(e["location"], e["path"]) for e in body["errors"]] == [("body", where)], body
        assert "lone surrogate" in body["errors"][0]["message"]


def test_the_nesting_message_names_the_limit(server):
    status, body = send(server, "POST", "/v1/incidents", BODIES["a payload nesting 65 deep"][0])
    assert (status, body["error"]) == (400, "malformed JSON: arrays and objects nest more than 64 deep")


def test_nesting_64_deep_and_a_surrogate_pair_are_fine(server):
    deep = b"[" * 63 + b"]" * 63  # 64 deep with the incident's own object
    status, body = send(server, "POST", "/v1/incidents", INCIDENT + b'"payload": ' + deep + b', "dedup_key": "d64"}')
    assert status == 201, body
    status, body = send(server, "POST", "/v1/incidents", INCIDENT + b'"labels": {"mood": "\\ud83d\\ude00"}}')
    assert status == 201 and body["incident"]["labels"] == {"mood": "\N{GRINNING FACE}"}, body


def test_hostile_bodies_change_nothing(server):
    before = incidents_and_state(server)
    for path in BODY_ENDPOINTS:
        for raw, _, _ in BODIES.values():
            send(server, "POST", path, raw)
    assert incidents_and_state(server) == before


@pytest.mark.parametrize("edge", EDGES + LOCAL_EDGES + NOT_INSTANTS)
@pytest.mark.parametrize(
    ("path", "where"), [("/v1/incidents", "$.created_at"), ("/v1/rules/evaluate", "$.incident.created_at")]
)
def test_an_instant_at_the_edge_of_the_calendar_in_a_body_is_a_422_naming_it(server, path, where, edge):
    incident = {**P1, "created_at": edge}
    status, body = send(
        server, "POST", path, json.dumps({"incident": incident} if "rules" in path else incident).encode()
    )
    assert_error_shape(status, body, 422)
    assert [(e["location"], e["path"]) for e in body["errors"]] == [("body", where)], body


# --- query and path ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "name", "others"), INSTANT_QUERIES, ids=[f"{p} {n}" for p, n, _ in INSTANT_QUERIES])
@pytest.mark.parametrize("edge", EDGES + LOCAL_EDGES)
def test_an_instant_at_the_edge_of_the_calendar_in_a_query_is_a_422_naming_it(server, path, name, others, edge):
    status, body = send(server, "GET", f"{path}?{urllib.parse.urlencode({**others, name: edge})}")
    assert_error_shape(status, body, 422)
    assert [(e["location"], e["path"]) for e in body["errors"]] == [("query", name)], body
    assert body["errors"][0]["message"] == f"the year must be 1900 to 2999, got {edge}"


@pytest.mark.parametrize(("path", "name", "others"), INSTANT_QUERIES, ids=[f"{p} {n}" for p, n, _ in INSTANT_QUERIES])
@pytest.mark.parametrize("text", NOT_INSTANTS)
def test_a_query_value_that_is_not_a_date_time_is_a_422_naming_it(server, path, name, others, text):
    status, body = send(server, "GET", f"{path}?{urllib.parse.urlencode({**others, name: text})}")
    assert_error_shape(status, body, 422)
    assert [(e["location"], e["path"]) for e in body["errors"]] == [("query", name)], body


@pytest.mark.parametrize("at", INSIDE)
def test_an_instant_just_inside_the_calendar_is_answered(server, at):
    status, body = send(server, "GET", f"/v1/schedules/primary-oncall/oncall?{urllib.parse.urlencode({'at': at})}")
    assert status == 200, body
    query = urllib.parse.urlencode({"start": at})  # and the 7 days after it
    assert send(server, "GET", f"/v1/schedules/primary-oncall/shifts?{query}")[0] == 200
    assert send(server, "GET", f"/v1/schedules/primary-oncall.ics?{query}")[0] == 200


@pytest.mark.parametrize(("method", "url", "expected"), ODD_URLS)
def test_a_percent_escaped_lone_surrogate_in_a_url_is_a_4xx_with_the_error_shape(server, method, url, expected):
    status, body = send(server, method, url, b"{}" if method == "POST" else None)
    assert_error_shape(status, body, expected)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/incidents", "GET, HEAD, POST"),  # two routes on one path: both named
        ("/v1/incidents/target", "GET, HEAD, PATCH"),
        ("/v1/incidents/target/acknowledge", "POST"),
        ("/health", "GET, HEAD"),
    ],
)
@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PATCH", "DELETE", "TRACE"])
def test_a_method_a_path_does_not_take_is_a_405_naming_those_it_does(server, path, allowed, method):
    if method in allowed.split(", "):
        return  # the path takes it (PATCH /v1/incidents/{id})
    request = urllib.request.Request(f"{server.url}{path}", method=method, headers=bearer(ADMIN))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.headers["Allow"] == allowed
    assert_error_shape(refused.value.code, json.loads(refused.value.read()), 405)


async def test_a_lone_surrogate_in_a_path_parameter_is_a_422_naming_it():
    # Not through uvicorn, which never passes one: straight to the app, as another ASGI server might.
    plugins = tocsin.load_plugins()
    app = create_app(load(DOCUMENT, plugins), plugins, storage=memory_storage(), clock=tocsin.ManualClock(START))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {ADMIN}".encode())]
    scope = {"type": "http", "method": "GET", "path": "/v1/incidents/\ud800", "query_string": b"", "headers": headers}
    await app({**scope, "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http"}, receive, record)
    assert sent[0]["status"] == 422
    body = json.loads(sent[1]["body"])
    assert body["errors"] == [
        {"location": "path", "path": "incident_id", "message": "holds a lone surrogate (such as \\ud800): not text"}
    ]


# --- bodies that stall or are too large ------------------------------------------------------------------


def head(path: str, length: int | None, *, chunked: bool = False) -> bytes:
    token = PROMETHEUS if path.startswith("/v1/integrations/") else ADMIN
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Authorization: Bearer {token}")
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(connection: socket.socket) -> tuple[int, dict[str, str], Any]:
    """One HTTP answer read off ``connection``: status, headers, the JSON body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed before an answer: {received!r}"
        received += chunk
    top, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = top.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    while len(rest) < int(headers["content-length"]):
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed mid-answer: {received + rest!r}"
        rest += chunk
    assert headers["content-type"] == "application/json", headers
    return int(status_line.split()[1]), headers, json.loads(rest)


@contextlib.contextmanager
def connection_to(server: ServerThread) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        yield connection


@pytest.mark.parametrize("path", ["/v1/incidents", "/v1/rules/evaluate", "/v1/incidents/target/acknowledge"])
def test_a_body_shorter_than_its_content_length_is_a_408_and_health_stays_fast(server, path):
    with contextlib.ExitStack() as stack:
        stalled = [stack.enter_context(connection_to(server)) for _ in range(5)]
        for connection in stalled:
            connection.sendall(head(path, 100) + b'{"title":')  # 10 of the 100 bytes, then nothing
        timings = [health_ms(server) for _ in range(9)]  # while five stalled bodies hold their requests open
        answers = [read_answer(connection) for connection in stalled]  # within the socket's timeout of 10 s
    assert statistics.median(timings) < 100, timings
    for status, headers, body in answers:
        assert_error_shape(status, body, 408)
        assert body["error"] == f"the request body did not arrive within {WAIT:g} s"
        assert headers["connection"] == "close"


def test_a_client_that_leaves_mid_body_costs_nothing(server):
    before = incidents_and_state(server)
    for _ in range(5):
        with connection_to(server) as connection:
            connection.sendall(head("/v1/incidents", 100) + b'{"title":')
    health_ms(server)  # still answering
    assert incidents_and_state(server) == before


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_declared_over_the_limit_is_a_413_before_it_is_sent(server, path):
    with connection_to(server) as connection:
        connection.sendall(head(path, LIMIT + 1))  # and no body at all: no need to wait for it
        status, _, body = read_answer(connection)
    assert_error_shape(status, body, 413)
    assert body["error"] == f"request body of {LIMIT + 1} bytes is over the limit of {LIMIT} bytes"


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_streamed_over_the_limit_is_a_413_counted_in_bytes_read(server, path):
    chunk = b" " * 65536
    with connection_to(server) as connection:
        connection.sendall(head(path, None, chunked=True))  # no Content-Length to go by
        with contextlib.suppress(OSError):  # the server may answer and close before all of it is sent
            for _ in range(LIMIT // len(chunk) + 1):
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.sendall(b"0\r\n\r\n")
        status, _, body = read_answer(connection)
    assert_error_shape(status, body, 413)
    assert body["error"] == f"request body is over the limit of {LIMIT} bytes"


# --- a regex that backtracks until its timeout --------------------------------------------------------------

BACKTRACKING = 8  # rules, each with a pattern that backtracks on the title below until its timeout (50 ms)
RULES = "".join(
    f"""
  - name: Backtracking {n}
    conditions:
      - {{field: source, operator: equals, value: backtracking}}
      - {{field: title, operator: matches, value: "(a|aa)+{end}"}}
    actions: [{{type: add_labels, labels: {{matched: "{n}"}}}}]"""
    for n, end in enumerate("$bcdefgh"[:BACKTRACKING])
)
SLOW = {"title": "a" * 40 + "!", "severity": "P3", "source": "backtracking"}


@pytest.fixture(scope="module")
def backtracking() -> Iterator[ServerThread]:
    with make_server(DOCUMENT.replace("\nrules:\n", f"\nrules:{RULES}\n")) as running:
        yield running


def test_health_stays_fast_while_rules_are_evaluated_with_a_backtracking_regex(backtracking):
    answers: list[tuple[int, Any]] = []

    def evaluate() -> None:
        answers.append(send(backtracking, "POST", "/v1/rules/evaluate", json.dumps({"incident": SLOW}).encode()))

    timings = health_while(backtracking, evaluate)
    assert len(timings) >= 5 and statistics.median(timings) < 100, timings
    status, body = answers[0]
    assert status == 200 and body["matched"] == [], body
    verdicts = {
        rule["rule"]: rule["conditions"][-1]["error"] for rule in body["explain"] if "Backtracking" in rule["rule"]
    }
    assert len(verdicts) == BACKTRACKING and set(verdicts.values()) == {"timed out (counts as no match)"}, verdicts


def test_health_stays_fast_while_incidents_are_routed_with_a_backtracking_regex(backtracking):
    answers: list[tuple[int, Any]] = []
    keys = itertools.count()

    def create() -> None:
        body = {**SLOW, "dedup_key": f"slow-{next(keys)}"}  # each a new incident: a repeat is not routed
        answers.append(send(backtracking, "POST", "/v1/incidents", json.dumps(body).encode()))

    with capture_logs() as logs:
        timings = health_while(backtracking, create)
    assert len(timings) >= 5 and statistics.median(timings) < 100, timings
    for status, body in answers:
        assert status == 201 and body["matched_rules"] == [], body  # a timeout counts as no match
    timed_out = {entry["rule"] for entry in logs if entry["event"] == "routing.condition_timed_out"}
    assert timed_out == {f"Backtracking {n}" for n in range(BACKTRACKING)}  # logged, once per rule
    assert all(entry["log_level"] == "warning" for entry in logs if entry["event"] == "routing.condition_timed_out")


def test_only_rules_with_a_slow_condition_are_routed_in_a_worker_thread(backtracking):
    plain = make_server(DOCUMENT).app.state.service.routing
    assert plain.offloads is False  # equals and in: routed in place, where a thread hop would cost more
    assert backtracking.app.state.service.routing.offloads is True  # matches is registered slow
