"""Incident JSON (for jmespath, the CLI and the API) and policy selection after routing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import attrs
import pytest
from support.routing import incident

import tocsin
from tocsin import EscalationLevel, EscalationPolicy


def test_incident_json_has_every_field_in_json_types():
    created = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    document = tocsin.incident_to_json(
        incident(
            id="inc-1",
            severity="P1",
            incident_type="Security",
            assignees=["ana@example.com"],
            labels={"team": "db"},
            payload={"n": [1, 2]},
            created_at=created,
        )
    )
    assert document == {
        "id": "inc-1",
        "source": "monitoring",
        "title": "Disk full on db-1",
        "description": "",
        "severity": "P1",
        "state": "Detected",
        "incident_type": "Security",
        "priority_score": 1,
        "assignees": ["ana@example.com"],
        "labels": {"team": "db"},
        "payload": {"n": [1, 2]},
        "dedup_key": None,
        "created_at": "2026-03-02T09:30:00+00:00",
    }


def test_incident_json_round_trips():
    original = incident(severity="P0", labels={"a": "b"}, payload={"k": {"v": 1}}, dedup_key="d-1")
    assert tocsin.incident_from_json(tocsin.incident_to_json(original)) == original


def test_incident_from_json_fills_id_created_at_and_priority():
    made = tocsin.incident_from_json({"title": "t", "severity": "P3"})
    assert made.id and made.created_at.tzinfo is not None
    assert made.priority_score == 3


def test_incident_from_json_reports_every_fault_with_its_path():
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.incident_from_json({"title": 5, "severity": "P9", "labels": {"a": 1}, "extra": True}, source="inc.yaml")
    assert {str(issue) for issue in caught.value.issues} == {
        "inc.yaml: $: unknown field(s): extra",
        "inc.yaml: $.labels['a']: expected a string, got 1",
        "inc.yaml: $.severity: expected one of P0, P1, P2, P3, P4; got 'P9'",
        "inc.yaml: $.title: expected a string, got 5",
    }


def test_incident_from_json_needs_a_mapping():
    with pytest.raises(tocsin.ConfigError, match=r"inc.json: \$: an incident must be a mapping of fields"):
        tocsin.incident_from_json(["title"], source="inc.json")


@attrs.frozen(kw_only=True)
class Somebody:
    type: ClassVar[str] = "somebody"
    email: str = "oncall@example.com"


def policy(policy_id, *, severities=(), priority=0, enabled=True):
    level = EscalationLevel(targets=(Somebody(),))
    return EscalationPolicy(
        id=policy_id, severity_filter=severities, priority=priority, enabled=enabled, levels=(level,)
    )


POLICIES = [
    policy("catch-all"),
    policy("p1-a", severities=("P0", "P1"), priority=10),
    policy("p1-b", severities=("P1",), priority=10),
    policy("p1-off", severities=("P1",), priority=99, enabled=False),
    policy("low", severities=("P3", "P4"), priority=5),
]


@pytest.mark.parametrize(
    ("severity", "override", "chosen"),
    [
        ("P1", None, "p1-a"),  # highest priority; the tie goes to the one defined first
        ("P3", None, "low"),
        ("P2", None, "catch-all"),  # an empty filter applies to every severity
        ("P2", "low", "low"),  # use_policy wins whatever the filter
        ("P1", "p1-off", "p1-a"),  # a disabled policy is never chosen
        ("P1", "unknown", "p1-a"),
    ],
)
def test_select_policy(severity, override, chosen):
    assert tocsin.select_policy(POLICIES, incident(severity=severity), override).id == chosen


def test_select_policy_returns_none_when_nothing_applies():
    assert tocsin.select_policy([policy("p0", severities=("P0",))], incident(severity="P4")) is None
