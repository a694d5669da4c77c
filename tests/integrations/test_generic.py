"""The ``generic`` source: any JSON, read with JMESPath expressions from the config."""

from __future__ import annotations

import pytest
from support.integrations import TOKEN, config, service

import tocsin

CHECKS = {
    "checks": {
        "type": "generic",
        "token": TOKEN,
        "dedup_key": "check.id",
        "title": "check.name",
        "description": "output",
        "severity": "level",
        "severity_map": {"crit": "P1", "warn": "P3"},
        "labels": "{host: host, env: env, attempt: attempt, flaky: flaky}",
        "resolve": "state == 'ok'",
        "update": "state == 'changed'",
        "defaults": {"incident_type": "Availability"},
    }
}


def event(state: str = "failing", check_id: object = "web-ping", **more: object) -> dict:
    body = {
        "check": {"id": check_id, "name": "Website ping fails"},
        "output": "timeout after 10s",
        "level": "crit",
        "host": "web-1",
        "env": "prod",
        "attempt": 3,
        "flaky": False,
        "state": state,
    }
    body.update(more)
    return body


@pytest.fixture
def svc():
    return service(CHECKS)


def test_a_failing_check_opens_an_incident_from_the_expressions(svc):
    (outcome,) = svc.receive("checks", event())

    assert (outcome["action"], outcome["result"]) == ("create", "created")
    incident = svc.incident("checks/web-ping")
    assert incident.title == "Website ping fails"
    assert incident.description == "timeout after 10s"
    assert incident.severity is tocsin.Severity.P1
    assert incident.incident_type is tocsin.IncidentType.AVAILABILITY
    assert incident.labels == {"host": "web-1", "env": "prod", "attempt": "3", "flaky": "false"}
    assert incident.payload["output"] == "timeout after 10s"
    assert svc.pages(incident.id) == [(0, "oncall@example.com")]


def test_a_repeat_counts_and_a_resolve_stops_the_escalation(svc):
    svc.receive("checks", event())
    (repeat,) = svc.receive("checks", event())
    svc.advance(minutes=5)
    (resolved,) = svc.receive("checks", {"check": {"id": "web-ping"}, "state": "ok"})
    svc.advance(minutes=30)

    incident = svc.incident("checks/web-ping")
    assert (repeat["result"], repeat["duplicates"]) == ("duplicate", 1)
    assert resolved["result"] == "resolved"
    assert incident.state is tocsin.IncidentState.RESOLVED
    assert svc.pages(incident.id) == [(0, "oncall@example.com")]


def test_an_update_refreshes_the_open_incident_without_counting_a_repeat(svc):
    svc.receive("checks", event())
    changed = event("changed", output="timeout after 30s", host="web-2")
    changed["check"]["name"] = "Website ping fails (worse)"
    (outcome,) = svc.receive("checks", changed)

    assert (outcome["action"], outcome["result"], outcome["duplicates"]) == ("update", "updated", 0)
    (incident,) = svc.incidents()
    assert incident.title == "Website ping fails (worse)"
    assert incident.description == "timeout after 30s"
    assert incident.labels["host"] == "web-2"
    assert incident.state is tocsin.IncidentState.DETECTED
    assert svc.pages(incident.id) == [(0, "oncall@example.com")]  # no second escalation


def test_an_update_for_an_unknown_key_opens_the_incident(svc):
    (outcome,) = svc.receive("checks", event("changed", check_id="db-ping"))
    assert (outcome["action"], outcome["result"]) == ("update", "created")
    assert svc.incident("checks/db-ping").title == "Website ping fails"


def test_numbers_are_keys_too_and_unknown_levels_take_the_default_severity(svc):
    svc.receive("checks", event(check_id=42, level="emergency"))
    incident = svc.incident("checks/42")
    assert incident.severity is tocsin.Severity.P3  # the integration's default severity


def test_items_reads_a_batch_with_one_event_per_element():
    svc = service(
        {
            "batch": {
                "type": "generic",
                "token": TOKEN,
                "items": "events",
                "dedup_key": "key",
                "title": "summary",
                "resolve": "resolved",
            }
        }
    )
    body = {"events": [{"key": "a", "summary": "A broke"}, {"key": "b", "summary": "B broke"}]}
    assert [o["result"] for o in svc.receive("batch", body)] == ["created", "created"]
    body = {"events": [{"key": "a", "resolved": True}, {"key": "b", "summary": "B broke", "resolved": False}]}
    assert [o["result"] for o in svc.receive("batch", body)] == ["resolved", "duplicate"]
    assert [i.state.value for i in svc.incidents()] == ["Resolved", "Detected"]


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (event(check={"name": "x"}), "$", "the dedup_key expression 'check.id' found nothing"),
        (event(check={"id": ["a"], "name": "x"}), "$", "dedup_key expression 'check.id' found [\"a\"]"),
        (event(check={"id": "a", "name": {"x": 1}}), "$", "the title expression 'check.name' found {\"x\": 1}"),
        (event(check={"id": "a"}), "$", "the title expression 'check.name' found nothing"),
        (event(host={"name": "web-1"}), "$", 'label \'host\' is {"name": "web-1"}'),
        ("just text", "$", "the dedup_key expression 'check.id' found nothing"),
    ],
)
def test_a_body_the_expressions_cannot_read_is_refused_and_changes_nothing(svc, body, path, words):
    with pytest.raises(tocsin.PayloadError) as caught:
        svc.receive("checks", body)
    assert caught.value.path == path
    assert words in caught.value.message
    assert svc.incidents() == []


def test_errors_in_a_batch_name_the_item_and_nothing_is_applied():
    svc = service({"batch": {"type": "generic", "token": TOKEN, "items": "events", "dedup_key": "key", "title": "t"}})
    with pytest.raises(tocsin.PayloadError) as caught:
        svc.receive("batch", {"events": [{"key": "a", "t": "fine"}, {"t": "no key"}]})
    assert caught.value.path == "$.events[1]"
    with pytest.raises(tocsin.PayloadError, match=r'the items expression .events. gave \{"a": 1\}; expected a list'):
        svc.receive("batch", {"events": {"a": 1}})
    assert svc.incidents() == []


def test_an_expression_that_fails_at_run_time_is_a_payload_error():
    svc = service({"x": {"type": "generic", "token": TOKEN, "dedup_key": "id", "title": "join(', ', names)"}})
    with pytest.raises(tocsin.PayloadError, match=r"the title expression \"join\(', ', names\)\" failed"):
        svc.receive("x", {"id": "1", "names": [1, 2]})
    assert svc.incidents() == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"dedup_key": "id", "title": "a["}, "$.integrations['x'].title: invalid JMESPath expression 'a['"),
        ({"dedup_key": "id"}, "$.integrations['x'].title: required field missing"),
        ({"dedup_key": "id", "title": "t", "resolve": "=="}, "$.integrations['x'].resolve: invalid JMESPath"),
        ({"dedup_key": "id", "title": "t", "severity_map": {"crit": "P9"}}, "severity_map['crit']: expected one of"),
    ],
)
def test_bad_expressions_are_config_errors_with_their_path(settings, expected):
    with pytest.raises(tocsin.ConfigError) as caught:
        config({"x": {"type": "generic", "token": TOKEN, **settings}})
    assert expected in str(caught.value)
