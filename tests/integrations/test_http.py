"""POST /v1/integrations/{name} on a real server: tokens, answers, and what the incidents API then shows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from support.integrations import TOKEN, alertmanager_body, am_alert, grafana_body
from support.server import ADMIN, START, ServerThread, bearer

import tocsin
from tocsin.server import create_app, memory_storage

CONFIG = {
    "server": {"tokens": [{"name": "ops-admin", "token": ADMIN, "scopes": ["admin"]}], "max_body_bytes": 65536},
    "storage": {"backend": "memory"},
    "policies": [
        {
            "id": "infra",
            "levels": [
                {"targets": [{"type": "user", "email": "oncall@example.com"}]},
                {"delay_minutes": 10, "targets": [{"type": "user", "email": "lead@example.com"}]},
            ],
        }
    ],
    "integrations": {
        "prometheus": {"type": "alertmanager", "token": TOKEN, "defaults": {"incident_type": "Infrastructure"}},
        "grafana": {"type": "grafana", "token": TOKEN + "-grafana"},
    },
}


def request(server: ServerThread, method: str, path: str, body: Any = None, headers: dict | None = None):
    """(status, headers, parsed JSON body) of one request; ``body`` bytes are sent as they are."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = urllib.request.Request(server.url + path, data=data, method=method, headers=headers or {})
    sent.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(sent, timeout=20) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.fixture
def server(builtin_plugins):
    config = tocsin.parse_config(CONFIG, builtin_plugins.registry, source="test")
    clock = tocsin.ManualClock(START)
    app = create_app(config, builtin_plugins, storage=memory_storage(), clock=clock)
    with ServerThread(app) as running:
        running.clock = clock
        yield running


def post(server: ServerThread, name: str, body: Any, token: str | None = TOKEN, *, query: str = ""):
    headers = bearer(token) if token is not None else {}
    return request(server, "POST", f"/v1/integrations/{name}{query}", body, headers)


def test_a_firing_alert_is_answered_with_what_happened_and_the_incident_is_in_the_api(server):
    status, _, receipt = post(server, "prometheus", alertmanager_body(am_alert(fingerprint="1a30ba71cca2921f")))

    assert status == 200
    assert receipt["integration"] == "prometheus"
    (outcome,) = receipt["outcomes"]
    assert {k: outcome[k] for k in ("action", "result", "dedup_key", "duplicates", "policy_id")} == {
        "action": "create",
        "result": "created",
        "dedup_key": "prometheus/1a30ba71cca2921f",
        "duplicates": 0,
        "policy_id": "infra",
    }
    status, _, detail = request(server, "GET", f"/v1/incidents/{outcome['incident_id']}", headers=bearer(ADMIN))
    assert status == 200
    assert detail["incident"]["title"] == "HighCPU on db-1:9100"
    assert detail["incident"]["labels"]["severity"] == "critical"
    assert detail["incident"]["incident_type"] == "Infrastructure"
    assert detail["escalation"]["status"] == "active"


def test_a_refire_counts_and_a_resolve_stops_the_escalation(server):
    body = alertmanager_body(am_alert(fingerprint="bbbb000000000001"))
    first = post(server, "prometheus", body)[2]["outcomes"][0]
    again = post(server, "prometheus", body)[2]["outcomes"][0]
    resolved_body = alertmanager_body(am_alert(status="resolved", fingerprint="bbbb000000000001"))
    status, _, resolved = post(server, "prometheus", resolved_body)

    assert (again["result"], again["duplicates"], again["incident_id"]) == ("duplicate", 1, first["incident_id"])
    assert status == 200 and resolved["outcomes"][0]["result"] == "resolved"
    detail = request(server, "GET", f"/v1/incidents/{first['incident_id']}", headers=bearer(ADMIN))[2]
    assert detail["duplicates"] == 1
    assert detail["incident"]["state"] == "Resolved"
    assert detail["escalation"]["status"] == "resolved"
    server.advance(server.clock, minutes=30)
    detail = request(server, "GET", f"/v1/incidents/{first['incident_id']}", headers=bearer(ADMIN))[2]
    recipients = [d["notification"]["recipient"]["address"] for d in detail["escalation"]["deliveries"]]
    assert recipients == ["oncall@example.com"]  # the lead, due at 10 minutes, was never paged


def test_the_token_may_come_as_a_query_parameter(server):
    status, _, receipt = post(server, "grafana", grafana_body(), token=None, query=f"?token={TOKEN}-grafana")
    assert status == 200
    assert [o["result"] for o in receipt["outcomes"]] == ["created", "created"]


@pytest.mark.parametrize(
    ("token", "query", "words"),
    [
        (None, "", "integration 'prometheus' needs its token"),
        ("wrong-token-0123456789", "", "wrong token for integration 'prometheus'"),
        (TOKEN + "-grafana", "", "wrong token for integration 'prometheus'"),  # another integration's token
        (ADMIN, "", "wrong token for integration 'prometheus'"),  # API tokens are not integration tokens
        (None, "?token=nope", "wrong token for integration 'prometheus'"),
    ],
)
def test_a_missing_or_wrong_token_is_a_401_and_changes_nothing(server, token, query, words):
    status, headers, problem = post(server, "prometheus", alertmanager_body(am_alert()), token=token, query=query)
    assert status == 401
    assert words in problem["error"]
    assert headers["www-authenticate"].startswith("Bearer")
    assert request(server, "GET", "/v1/incidents", headers=bearer(ADMIN))[2]["incidents"] == []


def test_an_unknown_integration_is_a_404(server):
    status, _, problem = post(server, "nagios", alertmanager_body(am_alert()))
    assert status == 404
    assert problem["error"] == "no integration named 'nagios'"


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"{not json", "malformed JSON: line 1 column 2"), (b"", "empty body"), (b"\xff\xfe", "not UTF-8")],
)
def test_a_body_that_is_not_json_is_a_400(server, body, words):
    status, _, problem = post(server, "prometheus", body)
    assert status == 400
    assert words in problem["error"]


def test_a_body_the_source_cannot_read_is_a_422_with_the_path_and_changes_nothing(server):
    body = alertmanager_body(am_alert(instance="a"), am_alert(instance="b"))
    body["alerts"][1]["status"] = "pending"
    status, _, problem = post(server, "prometheus", body)

    assert status == 422
    assert problem["errors"] == [
        {"location": "body", "path": "$.alerts[1].status", "message": "expected 'firing' or 'resolved', got 'pending'"}
    ]
    assert "$.alerts[1].status" in problem["error"]
    assert request(server, "GET", "/v1/incidents", headers=bearer(ADMIN))[2]["incidents"] == []


def test_a_body_over_the_size_limit_is_a_413(server):
    huge = alertmanager_body(*[am_alert(instance=f"host-{n}", description="x" * 1000) for n in range(80)])
    status, _, problem = post(server, "prometheus", huge)
    assert status == 413
    assert "over the limit of 65536 bytes" in problem["error"]


def test_the_endpoint_is_in_the_openapi_document(server):
    status, _, document = request(server, "GET", "/openapi.json")
    assert status == 200
    operation = document["paths"]["/v1/integrations/{name}"]["post"]
    assert operation["operationId"] == "receive_integration"
    assert {"200", "400", "401", "404", "422"} <= set(operation["responses"])
