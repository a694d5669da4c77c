"""Simulations through the Python API: every action, rejected actions, and what the timeline records."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.escalation import plugins

import tocsin
from tocsin.simulation.runner import compare, simulate
from tocsin.simulation.scenario import load_scenario, parse_duration

CONFIG = {
    "teams": {"platform": ["eng1@example.com", "eng2@example.com"]},
    "schedules": [
        {
            "id": "days",
            "timezone": "UTC",
            "layers": [
                {
                    "name": "Day",
                    "users": ["day@example.com"],
                    "rotation": {"type": "daily", "handoff_hour": 9},
                    "restrictions": {"start_hour": 9, "end_hour": 17},
                }
            ],
        }
    ],
    "policies": [
        {
            "id": "standard",
            "ack_timeout_minutes": 15,
            "levels": [
                {"targets": [{"type": "schedule", "schedule_id": "days"}, {"type": "user", "email": "a@x"}]},
                {"delay_minutes": 5, "targets": [{"type": "user", "email": "b@x"}]},
                {"delay_minutes": 10, "targets": [{"type": "team", "team_id": "platform"}]},
            ],
        }
    ],
}


@pytest.fixture
def config() -> tocsin.Config:
    return tocsin.parse_config(CONFIG, plugins().registry)


def run(tmp_path: Path, config: tocsin.Config, **scenario) -> tocsin.simulation.runner.SimulationResult:
    document = {"start": "2026-03-01T03:00:00Z", "incident": {"title": "x", "severity": "P1"}, **scenario}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return simulate(load_scenario(path), config, plugins())


def entries(result, *kinds):
    return [(e["minute"], e["event"]) for e in result.timeline if e["event"] in kinds]


def test_nobody_on_call_is_in_the_timeline_and_the_others_are_paged(tmp_path, config):
    result = run(tmp_path, config, until="1m")
    (unresolved,) = [e for e in result.timeline if e["event"] == "unresolved"]
    assert unresolved["level"] == 0 and "nobody on call for schedule 'days'" in unresolved["detail"]
    assert [(p["minute"], p["recipient"]) for p in result.pages()] == [(0, "a@x")]


def test_escalate_then_an_unresolved_acknowledgement_that_times_out(tmp_path, config):
    result = run(
        tmp_path,
        config,
        events=[{"at": "1m", "action": "escalate", "by": "a@x"}, {"at": "2m", "action": "acknowledge", "by": "b@x"}],
        until="40m",
    )
    assert [(p["minute"], p["level"], p["recipient"]) for p in result.pages()] == [
        (0, 0, "a@x"),
        (1, 1, "b@x"),  # escalated by hand
        (17, 1, "b@x"),  # 15 minutes after the ack at 2m: the acknowledged level again
        (27, 2, "eng1@example.com"),
        (27, 2, "eng2@example.com"),
    ]
    assert entries(result, "escalated", "acknowledged", "ack_timeout", "completed") == [
        (1, "escalated"),
        (2, "acknowledged"),
        (17, "ack_timeout"),
        (27, "completed"),
    ]
    assert result.status == "completed"


def test_an_action_that_is_not_possible_is_recorded_as_rejected(tmp_path, config):
    result = run(
        tmp_path,
        config,
        events=[{"at": "2m", "action": "cancel"}, {"at": "3m", "action": "acknowledge", "by": "a@x"}],
        until="1h",
    )
    (rejected,) = [e for e in result.timeline if e["event"] == "rejected"]
    assert rejected["minute"] == 3 and rejected["action"] == "acknowledge"
    assert rejected["detail"] == "incident 'scenario': the escalation is cancelled; it cannot be acknowledged"
    assert [p["minute"] for p in result.pages()] == [0]
    assert result.status == "cancelled"


def test_expectations_match_on_what_they_name(tmp_path, config):
    result = run(
        tmp_path,
        config,
        until="10m",
        expect={
            "pages": [{"at": "0m", "recipient": "a@x"}, {"at": "5m", "level": 1, "pass": 0}],
            "no_more_pages": True,
        },
    )
    assert compare(result) == []
    strict = run(tmp_path, config, until="10m", expect={"pages": [{"at": "0m"}], "no_more_pages": True})
    assert compare(strict) == ["+ unexpected page: at 5m level 1 pass 0 to b@x (via log)"]


def test_an_incident_no_policy_takes_has_no_status(tmp_path):
    config = tocsin.parse_config(
        {
            "policies": [{**CONFIG["policies"][0], "severity_filter": ["P0"]}],
            **{k: v for k, v in CONFIG.items() if k != "policies"},
        },
        plugins().registry,
    )
    result = run(tmp_path, config, until="1h", expect={"status": "completed"})
    assert result.status is None
    assert result.timeline[0]["event"] == "incident_processed" and result.timeline[0]["policy"] is None
    assert compare(result) == ["  status: expected completed, got no escalation"]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("7m", 420), ("1.5h", 5400), ("2d", 172800)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["7", "7 min", "-1m", "m", 7])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(ValueError, match="expected a duration such as 30s, 7m, 2h or 1d"):
        parse_duration(text)
