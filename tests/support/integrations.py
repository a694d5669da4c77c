"""Helpers for the integration tests: a service on a manual clock, and the payloads the real tools send.

The Alertmanager body follows its webhook receiver payload, version 4, as documented by Prometheus; the
Grafana body follows Grafana Alerting's webhook contact point payload, version 1 (the documented example).
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

import tocsin
from support.plugins import builtin_plugins

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TOKEN = "s3cret-token-for-tests"

POLICY = {
    "id": "infra",
    "name": "Infrastructure",
    "levels": [
        {"delay_minutes": 0, "targets": [{"type": "user", "email": "oncall@example.com"}]},
        {"delay_minutes": 10, "targets": [{"type": "user", "email": "lead@example.com"}]},
    ],
}


plugins = builtin_plugins


@attrs.define
class Service:
    """An engine, a processor and the integrations, all on one manual clock."""

    clock: tocsin.ManualClock
    engine: tocsin.EscalationEngine
    processor: tocsin.IncidentProcessor
    inbound: tocsin.Inbound

    def receive(self, name: str, body: Any) -> list[dict[str, Any]]:
        """Send ``body`` to integration ``name``; the outcomes as JSON."""
        return self.inbound.receive(name, body).to_json()["outcomes"]

    def incidents(self) -> list[tocsin.Incident]:
        """Every incident, in the order first stored."""
        return self.processor.incidents.all()

    def incident(self, dedup_key: str) -> tocsin.Incident:
        """The (only) incident with ``dedup_key``."""
        (found,) = [incident for incident in self.incidents() if incident.dedup_key == dedup_key]
        return found

    def pages(self, incident_id: str) -> list[tuple[int, str]]:
        """(minute after START, recipient) of every page of the incident's escalation."""
        state = self.engine.get_escalation_state(incident_id)
        assert state is not None
        return [
            (int((d.notification.fired_at - START) / timedelta(minutes=1)), d.notification.recipient.address)
            for d in state.deliveries
            if d.notification.level >= 0
        ]

    def advance(self, minutes: float) -> None:
        """Move virtual time on, firing what falls due."""
        self.engine.run_until(self.clock.now() + timedelta(minutes=minutes))


def config(integrations: dict[str, Any], **sections: Any) -> tocsin.Config:
    """A config with the ``infra`` policy (oncall at 0, lead at 10 minutes) and ``integrations``."""
    document = {"policies": [POLICY], "integrations": integrations, **sections}
    return tocsin.parse_config(document, plugins().registry, source="tocsin.yaml")


def service(integrations: dict[str, Any], **sections: Any) -> Service:
    """A service with ``integrations`` configured, on a manual clock at START."""
    loaded = config(integrations, **sections)
    clock = tocsin.ManualClock(START)
    engine = tocsin.EscalationEngine(plugins(), clock=clock, config=loaded)
    processor = tocsin.IncidentProcessor.from_config(engine, loaded)
    inbound = tocsin.Inbound(loaded.integrations, plugins().registry, processor, clock=clock)
    return Service(clock=clock, engine=engine, processor=processor, inbound=inbound)


# --- Alertmanager -----------------------------------------------------------------------------------------


def am_alert(
    alertname: str = "HighCPU",
    *,
    status: str = "firing",
    instance: str = "db-1:9100",
    severity: str | None = "critical",
    fingerprint: str | None = None,
    no_fingerprint: bool = False,
    summary: str | None = None,
    description: str | None = "CPU above 90% for 5 minutes",
    **labels: str,
) -> dict[str, Any]:
    """One alert of an Alertmanager webhook body."""
    all_labels = {"alertname": alertname, "instance": instance, "job": "node", **labels}
    if severity is not None:
        all_labels["severity"] = severity
    annotations = {"summary": summary if summary is not None else f"{alertname} on {instance}"}
    if description is not None:
        annotations["description"] = description
    alert: dict[str, Any] = {
        "status": status,
        "labels": all_labels,
        "annotations": annotations,
        "startsAt": "2026-03-02T09:55:00.000Z",
        "endsAt": "2026-03-02T10:05:00.000Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=cpu_usage+%3E+0.9&g0.tab=1",
    }
    if not no_fingerprint:
        alert["fingerprint"] = fingerprint or hashlib.sha256(f"{alertname}/{instance}".encode()).hexdigest()[:16]
    return alert


def alertmanager_body(*alerts: dict[str, Any], group_key: str = '{}:{alertname="HighCPU"}') -> dict[str, Any]:
    """An Alertmanager webhook body (version 4) holding ``alerts``."""
    alerts = tuple(copy.deepcopy(alerts))
    firing = any(alert["status"] == "firing" for alert in alerts)
    shared = set.intersection(*(set(alert["labels"].items()) for alert in alerts)) if alerts else set()
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "tocsin",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]} if alerts else {},
        "commonLabels": dict(sorted(shared)),
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": list(alerts),
    }


# --- Grafana ----------------------------------------------------------------------------------------------


def grafana_body(status: str = "firing", *, second_status: str | None = None) -> dict[str, Any]:
    """Grafana Alerting's documented webhook example: two alerts (memory on us-1, CPU on eu-1)."""
    second_status = second_status or status
    return {
        "receiver": "My Super Webhook",
        "status": "firing" if "firing" in (status, second_status) else "resolved",
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1", "severity": "warning"},
                "annotations": {
                    "description": "The system has high memory usage",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "summary": "This alert was triggered for zone us-1",
                },
                "startsAt": "2021-10-12T09:51:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 44.23943737541908, "C": 1},
                "valueString": "[ var='B' labels={} value=44.23943737541908 ]",
            },
            {
                "status": second_status,
                "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1", "severity": "critical"},
                "annotations": {
                    "description": "The system has high CPU usage",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "summary": "This alert was triggered for zone eu-1",
                },
                "startsAt": "2021-10-12T09:56:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
                "fingerprint": "bc97ff14869b13e3",
                "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 44.23943737541908, "C": 1},
                "valueString": "[ var='B' labels={} value=44.23943737541908 ]",
            },
        ],
        "groupLabels": {},
        "commonLabels": {"team": "blue"},
        "commonAnnotations": {},
        "externalURL": "https://play.grafana.org/",
        "version": "1",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "title": "[FIRING:2]  (blue)",
        "state": "alerting",
        "message": "**Firing**\n\nLabels:\n - alertname = High memory usage\n",
    }
