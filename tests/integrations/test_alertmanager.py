"""The ``alertmanager`` source through the Python API: fire, re-fire, resolve, grouping, malformed bodies."""

from __future__ import annotations

import pytest
from support.integrations import TOKEN, alertmanager_body, am_alert, service

import tocsin

PROM = {"prom": {"type": "alertmanager", "token": TOKEN, "defaults": {"incident_type": "Infrastructure"}}}


@pytest.fixture
def svc():
    return service(PROM)


def test_a_firing_alert_opens_an_incident_with_the_alerts_fields_and_pages(svc):
    alert = am_alert("HighCPU", instance="db-1:9100", severity="critical", fingerprint="1a30ba71cca2921f")
    (outcome,) = svc.receive("prom", alertmanager_body(alert))

    assert outcome["action"] == "create"
    assert outcome["result"] == "created"
    assert outcome["policy_id"] == "infra"
    incident = svc.incident("prom/1a30ba71cca2921f")
    assert incident.id == outcome["incident_id"]
    assert incident.title == "HighCPU on db-1:9100"
    assert incident.description == "CPU above 90% for 5 minutes"
    assert incident.severity is tocsin.Severity.P1
    assert incident.incident_type is tocsin.IncidentType.INFRASTRUCTURE
    assert incident.source == "prom"
    assert incident.labels == {"alertname": "HighCPU", "instance": "db-1:9100", "job": "node", "severity": "critical"}
    assert incident.payload["alert"]["generatorURL"].startswith("http://prometheus.example.com:9090/")
    assert incident.payload["receiver"] == "tocsin"
    assert svc.pages(incident.id) == [(0, "oncall@example.com")]


def test_a_resent_firing_alert_counts_a_repeat_instead_of_opening_a_second_incident(svc):
    body = alertmanager_body(am_alert(fingerprint="aaaa000000000001"))
    first = svc.receive("prom", body)[0]
    svc.advance(minutes=2)
    again = svc.receive("prom", body)[0]
    svc.advance(minutes=2)
    third = svc.receive("prom", body)[0]

    assert (again["result"], again["duplicates"]) == ("duplicate", 1)
    assert (third["result"], third["duplicates"]) == ("duplicate", 2)
    assert again["incident_id"] == third["incident_id"] == first["incident_id"]
    assert len(svc.incidents()) == 1
    assert svc.processor.incidents.duplicates(first["incident_id"]) == 2
    assert svc.pages(first["incident_id"]) == [(0, "oncall@example.com")]


def test_a_resolved_alert_resolves_its_incident_and_stops_the_escalation(svc):
    svc.receive("prom", alertmanager_body(am_alert(fingerprint="bbbb000000000001")))
    svc.advance(minutes=4)
    (outcome,) = svc.receive("prom", alertmanager_body(am_alert(status="resolved", fingerprint="bbbb000000000001")))
    svc.advance(minutes=60)

    incident = svc.incident("prom/bbbb000000000001")
    assert outcome["result"] == "resolved"
    assert outcome["incident_id"] == incident.id
    assert incident.state is tocsin.IncidentState.RESOLVED
    state = svc.engine.get_escalation_state(incident.id)
    assert state.status is tocsin.EscalationStatus.RESOLVED
    assert state.events[-1].by == "integration:prom"
    assert svc.pages(incident.id) == [(0, "oncall@example.com")]  # the lead (due at 10 minutes) never paged


def test_a_resolved_alert_without_an_open_incident_changes_nothing(svc):
    (outcome,) = svc.receive("prom", alertmanager_body(am_alert(status="resolved")))
    assert outcome["result"] == "ignored"
    assert outcome["incident_id"] is None
    assert svc.incidents() == []


def test_an_alert_that_fires_again_after_resolving_opens_a_new_incident(svc):
    first = svc.receive("prom", alertmanager_body(am_alert(fingerprint="cccc000000000001")))[0]
    svc.receive("prom", alertmanager_body(am_alert(status="resolved", fingerprint="cccc000000000001")))
    svc.advance(minutes=30)
    again = svc.receive("prom", alertmanager_body(am_alert(fingerprint="cccc000000000001")))[0]

    assert again["result"] == "created"
    assert again["incident_id"] != first["incident_id"]
    assert [i.state.value for i in svc.incidents()] == ["Resolved", "Detected"]


def test_a_grouped_notification_opens_one_incident_per_alert(svc):
    body = alertmanager_body(
        am_alert("DiskFull", instance="db-1:9100", severity="warning"),
        am_alert("DiskFull", instance="db-2:9100", severity="critical"),
        am_alert("DiskFull", instance="db-3:9100", severity="info"),
        group_key='{}:{alertname="DiskFull"}',
    )
    outcomes = svc.receive("prom", body)

    assert [o["result"] for o in outcomes] == ["created", "created", "created"]
    assert len({o["incident_id"] for o in outcomes}) == 3
    by_instance = {i.labels["instance"]: i for i in svc.incidents()}
    assert {k: v.severity.value for k, v in by_instance.items()} == {
        "db-1:9100": "P3",
        "db-2:9100": "P1",
        "db-3:9100": "P4",
    }


def test_one_body_can_fire_some_alerts_and_resolve_others(svc):
    svc.receive("prom", alertmanager_body(am_alert(instance="a", fingerprint="dddd000000000001")))
    body = alertmanager_body(
        am_alert(instance="a", status="resolved", fingerprint="dddd000000000001"),
        am_alert(instance="b", fingerprint="dddd000000000002"),
    )
    outcomes = svc.receive("prom", body)

    assert [(o["action"], o["result"]) for o in outcomes] == [("resolve", "resolved"), ("create", "created")]
    assert svc.incident("prom/dddd000000000001").state is tocsin.IncidentState.RESOLVED
    assert svc.incident("prom/dddd000000000002").state is tocsin.IncidentState.DETECTED


def test_group_true_opens_one_incident_per_group_key():
    svc = service({"prom": {"type": "alertmanager", "token": TOKEN, "group": True}})
    alerts = [am_alert("DiskFull", instance=f"db-{n}:9100", severity=s) for n, s in ((1, "warning"), (2, "critical"))]
    body = alertmanager_body(*alerts, group_key='{}:{alertname="DiskFull"}')
    body["commonAnnotations"] = {"summary": "Disks are filling up"}

    (created,) = svc.receive("prom", body)
    (repeat,) = svc.receive("prom", body)
    (other,) = svc.receive("prom", alertmanager_body(am_alert("HighCPU"), group_key='{}:{alertname="HighCPU"}'))

    assert (created["result"], repeat["result"], other["result"]) == ("created", "duplicate", "created")
    incident = svc.incident('prom/{}:{alertname="DiskFull"}')
    assert incident.title == "Disks are filling up"
    assert incident.severity is tocsin.Severity.P1  # the most severe of the group's firing alerts
    assert incident.labels == {"alertname": "DiskFull", "job": "node"}  # the group's common labels
    assert "db-1:9100" in incident.description and "db-2:9100" in incident.description
    assert len(incident.payload["alerts"]) == 2


def test_group_true_resolves_the_group_incident_when_the_group_is_resolved():
    svc = service({"prom": {"type": "alertmanager", "token": TOKEN, "group": True}})
    alerts = [am_alert("DiskFull", instance=f"db-{n}:9100") for n in (1, 2)]
    svc.receive("prom", alertmanager_body(*alerts, group_key="g1"))
    half = alertmanager_body(alerts[0], am_alert("DiskFull", instance="db-2:9100", status="resolved"), group_key="g1")
    (still_firing,) = svc.receive("prom", half)
    done = [am_alert("DiskFull", instance=f"db-{n}:9100", status="resolved") for n in (1, 2)]
    (resolved,) = svc.receive("prom", alertmanager_body(*done, group_key="g1"))

    assert still_firing["result"] == "duplicate"
    assert resolved["result"] == "resolved"
    assert svc.incident("prom/g1").state is tocsin.IncidentState.RESOLVED


def test_the_severity_label_and_table_are_configurable():
    svc = service(
        {
            "prom": {
                "type": "alertmanager",
                "token": TOKEN,
                "severity_label": "priority",
                "severity_map": {"page": "P0", "ticket": "P4"},
                "defaults": {"severity": "P2"},
            }
        }
    )
    svc.receive("prom", alertmanager_body(am_alert(instance="a", severity=None, priority="page")))
    svc.receive("prom", alertmanager_body(am_alert(instance="b", severity=None, priority="TICKET")))
    svc.receive("prom", alertmanager_body(am_alert(instance="c", severity="critical", priority="whatever")))
    svc.receive("prom", alertmanager_body(am_alert(instance="d", severity=None, priority="p1")))

    assert [(i.labels["instance"], i.severity.value) for i in svc.incidents()] == [
        ("a", "P0"),
        ("b", "P4"),
        ("c", "P2"),  # not in the table (and 'critical' is not the label read): the default
        ("d", "P1"),  # P0..P4 always mean themselves
    ]


def test_without_a_fingerprint_the_label_set_is_the_key():
    svc = service(PROM)
    first = svc.receive("prom", alertmanager_body(am_alert(instance="x", no_fingerprint=True)))[0]
    again = svc.receive("prom", alertmanager_body(am_alert(instance="x", no_fingerprint=True)))[0]
    other = svc.receive("prom", alertmanager_body(am_alert(instance="y", no_fingerprint=True)))[0]
    assert (first["result"], again["result"], other["result"]) == ("created", "duplicate", "created")
    assert again["incident_id"] == first["incident_id"] != other["incident_id"]


def test_titles_fall_back_to_the_alertname_and_defaults_fill_in():
    svc = service(
        {
            "prom": {
                "type": "alertmanager",
                "token": TOKEN,
                "defaults": {
                    "source": "prometheus-eu",
                    "labels": {"region": "eu", "job": "default"},
                    "assignees": ["sre@example.com"],
                },
            }
        }
    )
    alert = am_alert("InstanceDown", summary="", description=None)
    alert["annotations"] = {}
    svc.receive("prom", alertmanager_body(alert))

    (incident,) = svc.incidents()
    assert incident.title == "InstanceDown"
    assert incident.description == ""
    assert incident.source == "prometheus-eu"
    assert incident.assignees == ("sre@example.com",)
    assert incident.labels["region"] == "eu"
    assert incident.labels["job"] == "node"  # the alert's own label wins over a default


def test_two_integrations_never_share_incidents():
    svc = service(
        {
            "prom-eu": {"type": "alertmanager", "token": TOKEN},
            "prom-us": {"type": "alertmanager", "token": "another-token-for-tests"},
        }
    )
    body = alertmanager_body(am_alert(fingerprint="eeee000000000001"))
    eu = svc.receive("prom-eu", body)[0]
    us = svc.receive("prom-us", body)[0]
    assert (eu["result"], us["result"]) == ("created", "created")
    assert {i.dedup_key for i in svc.incidents()} == {"prom-eu/eeee000000000001", "prom-us/eeee000000000001"}


def _broken(change):
    body = alertmanager_body(am_alert(instance="ok-1"), am_alert(instance="ok-2"))
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ([1, 2], "$", "expected an object, got a list"),
        (_broken(lambda b: b.update(version="3")), "$.version", "version '4', got '3'"),
        (_broken(lambda b: b.pop("version")), "$.version", "got None"),
        (_broken(lambda b: b.pop("alerts")), "$.alerts", "required field missing"),
        (_broken(lambda b: b.update(alerts={"a": 1})), "$.alerts", "expected a list, got an object"),
        (_broken(lambda b: b["alerts"].append("oops")), "$.alerts[2]", "expected an object, got a string"),
        (_broken(lambda b: b["alerts"][1].update(status="pending")), "$.alerts[1].status", "'firing' or 'resolved'"),
        (_broken(lambda b: b["alerts"][1].pop("status")), "$.alerts[1].status", "required field missing"),
        (_broken(lambda b: b["alerts"][1]["labels"].update(cpu=0.93)), "$.alerts[1].labels.cpu", "expected a string"),
        (_broken(lambda b: b["alerts"][0].update(annotations=["x"])), "$.alerts[0].annotations", "expected an object"),
        (_broken(lambda b: b["alerts"][1].update(fingerprint=7)), "$.alerts[1].fingerprint", "expected a string"),
        (_broken(lambda b: b["alerts"][0].update(labels={}, fingerprint="")), "$.alerts[0]", "fingerprint or labels"),
        (_broken(lambda b: b.update(commonLabels="x")), "$.commonLabels", "expected an object"),
        (_broken(lambda b: b.update(status="unknown")), "$.status", "'firing' or 'resolved'"),
    ],
)
def test_a_malformed_body_is_refused_with_the_path_and_changes_nothing(svc, body, path, words):
    with pytest.raises(tocsin.PayloadError) as caught:
        svc.receive("prom", body)
    assert caught.value.path == path
    assert words in caught.value.message
    assert svc.incidents() == []  # the valid alerts before the broken one were not applied either


def test_group_true_needs_a_group_key():
    svc = service({"prom": {"type": "alertmanager", "token": TOKEN, "group": True}})
    body = alertmanager_body(am_alert())
    del body["groupKey"]
    with pytest.raises(tocsin.PayloadError, match=r"\$\.groupKey: required field missing"):
        svc.receive("prom", body)
    assert svc.incidents() == []


def test_an_unknown_integration_is_its_own_error(svc):
    with pytest.raises(tocsin.UnknownIntegrationError, match="no integration named 'nope'"):
        svc.receive("nope", alertmanager_body(am_alert()))
