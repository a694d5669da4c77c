"""The ``grafana`` source through the Python API, with Grafana Alerting's documented webhook body."""

from __future__ import annotations

import pytest
from support.integrations import TOKEN, grafana_body, service

import tocsin

GRAFANA = {"graf": {"type": "grafana", "token": TOKEN, "defaults": {"incident_type": "Performance"}}}


@pytest.fixture
def svc():
    return service(GRAFANA)


def test_each_firing_alert_opens_an_incident_with_its_fields(svc):
    outcomes = svc.receive("graf", grafana_body())

    assert [o["result"] for o in outcomes] == ["created", "created"]
    memory = svc.incident("graf/c6eadffa33fcdf37")
    cpu = svc.incident("graf/bc97ff14869b13e3")
    assert memory.title == "This alert was triggered for zone us-1"
    assert memory.description == "The system has high memory usage"
    assert memory.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1", "severity": "warning"}
    assert (memory.severity, cpu.severity) == (tocsin.Severity.P3, tocsin.Severity.P1)
    assert memory.incident_type is tocsin.IncidentType.PERFORMANCE
    assert memory.payload["alert"]["values"] == {"B": 44.23943737541908, "C": 1}
    assert memory.payload["orgId"] == 1
    assert svc.pages(cpu.id) == [(0, "oncall@example.com")]


def test_a_resent_notification_counts_repeats(svc):
    svc.receive("graf", grafana_body())
    again = svc.receive("graf", grafana_body())
    assert [(o["result"], o["duplicates"]) for o in again] == [("duplicate", 1), ("duplicate", 1)]
    assert len(svc.incidents()) == 2


def test_a_resolved_alert_resolves_only_its_incident_and_its_escalation(svc):
    svc.receive("graf", grafana_body())
    svc.advance(minutes=3)
    outcomes = svc.receive("graf", grafana_body("resolved", second_status="firing"))
    svc.advance(minutes=30)

    assert [o["result"] for o in outcomes] == ["resolved", "duplicate"]
    memory = svc.incident("graf/c6eadffa33fcdf37")
    cpu = svc.incident("graf/bc97ff14869b13e3")
    assert memory.state is tocsin.IncidentState.RESOLVED
    assert svc.engine.get_escalation_state(memory.id).status is tocsin.EscalationStatus.RESOLVED
    assert svc.pages(memory.id) == [(0, "oncall@example.com")]
    assert svc.pages(cpu.id) == [(0, "oncall@example.com"), (10, "lead@example.com")]  # still escalating


def test_group_true_opens_one_incident_for_the_group():
    svc = service({"graf": {"type": "grafana", "token": TOKEN, "group": True}})
    (created,) = svc.receive("graf", grafana_body())
    (resolved,) = svc.receive("graf", grafana_body("resolved"))

    assert (created["result"], resolved["result"]) == ("created", "resolved")
    incident = svc.incident("graf/{}:{}")
    assert incident.severity is tocsin.Severity.P1
    assert incident.labels == {"team": "blue"}
    assert incident.title == "Grafana alert group {}:{}"
    assert "zone us-1" in incident.description and "zone eu-1" in incident.description


def test_older_grafana_without_fingerprints_keys_alerts_by_their_labels(svc):
    body = grafana_body()
    for alert in body["alerts"]:
        del alert["fingerprint"]
    first = svc.receive("graf", body)
    again = svc.receive("graf", body)
    assert [o["result"] for o in first] == ["created", "created"]
    assert [o["result"] for o in again] == ["duplicate", "duplicate"]


def test_a_legacy_grafana_alert_is_refused_with_a_message_that_says_so(svc):
    legacy = {
        "dashboardId": 1,
        "evalMatches": [{"value": 1, "metric": "Count", "tags": {}}],
        "message": "Notification Message",
        "orgId": 1,
        "ruleId": 1,
        "ruleName": "Panel Title alert",
        "ruleUrl": "http://localhost:3000/d/hZ7BuVbWz/test-dashboard?fullscreen&edit&tab=alert&panelId=2&orgId=1",
        "state": "alerting",
        "title": "[Alerting] Panel Title alert",
    }
    with pytest.raises(tocsin.PayloadError, match="legacy Grafana alert notification"):
        svc.receive("graf", legacy)
    assert svc.incidents() == []


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda b: b.update(version="2"), "$.version", "version '1', got '2'"),
        (lambda b: b["alerts"][1].update(status="alerting"), "$.alerts[1].status", "'firing' or 'resolved'"),
        (lambda b: b["alerts"][1]["labels"].update(zone=None), "$.alerts[1].labels.zone", "got null"),
        (lambda b: b["alerts"][0].update(startsAt=1634025063), "$.alerts[0].startsAt", "expected a string"),
        (lambda b: b.update(alerts=None), "$.alerts", "expected a list, got null"),
    ],
)
def test_a_malformed_body_is_refused_with_the_path_and_changes_nothing(svc, change, path, words):
    body = grafana_body()
    change(body)
    with pytest.raises(tocsin.PayloadError) as caught:
        svc.receive("graf", body)
    assert (caught.value.path, words in caught.value.message) == (path, True)
    assert svc.incidents() == []
