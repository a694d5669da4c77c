"""Scenarios with run-time changes: an override changes who a schedule level pages, a maintenance window holds the
incident until it ends (or drops it), a heartbeat that misses opens its own incident in the timeline and a ping
resolves it; a change that cannot be made is in the timeline as rejected; a bad change names its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.escalation import plugins

import tocsin
from tocsin.simulation.runner import compare, simulate
from tocsin.simulation.scenario import load_scenario

CONFIG = {
    "teams": {"platform": ["eng1@example.com", "eng2@example.com"]},
    "schedules": [
        {
            "id": "primary",
            "timezone": "UTC",
            "layers": [{"name": "Day", "users": ["day@example.com"], "rotation": {"type": "daily", "handoff_hour": 9}}],
        }
    ],
    "policies": [
        {
            "id": "standard",
            "levels": [
                {"targets": [{"type": "schedule", "schedule_id": "primary"}]},
                {"delay_minutes": 30, "targets": [{"type": "schedule", "schedule_id": "primary"}]},
            ],
        }
    ],
    "heartbeats": {
        "nightly-backup": {"interval": "2h", "token": "backup-token-0123456789", "incident": {"severity": "P1"}}
    },
}


def run(tmp_path: Path, **scenario) -> tocsin.simulation.runner.SimulationResult:
    document = {"start": "2026-03-01T03:00:00Z", "incident": {"title": "x", "severity": "P1"}, **scenario}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return simulate(load_scenario(path), tocsin.parse_config(CONFIG, plugins().registry), plugins())


def pages(result) -> list[tuple[float, int, str]]:
    return [(page["minute"], page["level"], page["recipient"]) for page in result.pages()]


def test_an_override_changes_who_the_next_level_pages(tmp_path):
    result = run(
        tmp_path,
        events=[
            {"at": "10m", "action": "override", "schedule": "primary", "user": "eng1@example.com", "duration": "1h"}
        ],
        until="1h",
    )
    assert pages(result) == [(0, 0, "day@example.com"), (30, 1, "eng1@example.com")]
    (override,) = [entry for entry in result.timeline if entry["event"] == "override"]
    assert (override["minute"], override["user"], override["until"]) == (
        10,
        "eng1@example.com",
        "2026-03-01T04:10:00+00:00",
    )


def test_an_override_at_0m_takes_effect_before_the_incident_arrives(tmp_path):
    result = run(
        tmp_path,
        events=[
            {"at": "0m", "action": "override", "schedule": "primary", "user": "eng2@example.com", "duration": "1h"}
        ],
        until="10m",
    )
    assert pages(result) == [(0, 0, "eng2@example.com")]
    assert [entry["event"] for entry in result.timeline][:2] == ["override", "incident_processed"]


def test_a_maintenance_window_holds_the_incident_until_it_ends(tmp_path):
    result = run(
        tmp_path,
        events=[{"at": "0m", "action": "maintenance", "duration": "45m", "match": {"source": ""}}],
        until="100m",  # before the config's heartbeat misses
        expect={"pages": [{"at": "45m", "level": 0}, {"at": "75m", "level": 1}], "no_more_pages": True},
    )
    assert compare(result) == []
    processed = next(entry for entry in result.timeline if entry["event"] == "incident_processed")
    assert processed["suppressed"] == "maintenance" and processed["window"]


def test_a_maintenance_window_that_drops_pages_nobody_ever(tmp_path):
    result = run(
        tmp_path, events=[{"at": "0m", "action": "maintenance", "duration": "15m", "on_end": "drop"}], until="100m"
    )
    assert pages(result) == [] and result.status is None


def test_a_missed_heartbeat_opens_its_incident_and_a_ping_resolves_it(tmp_path):
    result = run(
        tmp_path,
        events=[
            {"at": "1h", "action": "heartbeat", "name": "nightly-backup"},
            {"at": "210m", "action": "heartbeat", "name": "nightly-backup"},
        ],
        until="4h",
    )
    missed = [entry for entry in result.timeline if entry["event"] == "heartbeat_missed"]
    assert [(entry["minute"], entry["name"]) for entry in missed] == [(180, "nightly-backup")]  # 2 h after the ping
    opened = missed[0]["incident"]
    theirs = [(e["minute"], e["event"]) for e in result.timeline if e.get("incident") == opened and "name" not in e]
    assert theirs == [
        (180, "started"),
        (180, "level_fired"),
        (180, "notify"),
        (210, "level_fired"),
        (210, "notify"),
        (210, "completed"),
        (210, "resolved"),  # the ping at 210m resolves it
    ]
    pinged = [entry for entry in result.timeline if entry["event"] == "heartbeat"]
    assert [(entry["minute"], entry.get("resolved")) for entry in pinged] == [(60, None), (210, opened)]


def test_a_change_that_cannot_be_made_is_rejected_in_the_timeline(tmp_path):
    result = run(
        tmp_path,
        events=[
            {"at": "5m", "action": "override", "schedule": "nope", "user": "eng1@example.com", "duration": "1h"},
            {"at": "6m", "action": "override", "schedule": "primary", "user": "stranger@x", "duration": "1h"},
            {"at": "7m", "action": "heartbeat", "name": "nope"},
        ],
        until="10m",
    )
    rejected = [(entry["minute"], entry["detail"]) for entry in result.timeline if entry["event"] == "rejected"]
    assert rejected == [
        (5, "unknown schedule 'nope'; known: primary"),
        (6, "user: 'stranger@x' is not a person the config knows (its users, teams and schedules)"),
        (7, "no heartbeat named 'nope'"),
    ]


@pytest.mark.parametrize(
    ("event", "fault"),
    [
        ({"action": "override", "schedule": "primary", "user": "a@x"}, "$.events[0].duration: required for"),
        ({"action": "maintenance", "duration": "1h", "on_end": "page"}, "$.events[0].on_end: expected escalate or"),
        ({"action": "maintenance", "duration": "1h", "match": {"team": "db"}}, "$.events[0].match: unknown field"),
        ({"action": "heartbeat", "name": "x", "minutes": 3}, "$.events[0]: unknown field 'minutes'; known: action"),
        ({"action": "heartbeat"}, "$.events[0].name: required for a heartbeat event"),
    ],
)
def test_a_bad_change_names_its_path(tmp_path, event, fault):
    path = tmp_path / "scenario.yaml"
    document = {"start": "2026-03-01T03:00:00Z", "incident": {"title": "x", "severity": "P1"}}
    path.write_text(yaml.safe_dump({**document, "events": [{"at": "1m", **event}]}), encoding="utf-8")
    with pytest.raises(tocsin.ConfigError) as raised:
        load_scenario(path)
    assert any(str(issue).startswith(f"{path}: {fault}") for issue in raised.value.issues), str(raised.value)


def test_the_guides_scenario_with_run_time_changes_passes_against_the_example_config(tmp_path):
    (source,) = [
        block for block in code_blocks((ROOT / "docs" / "escalation.md").read_text(), "yaml") if "maintenance" in block
    ]
    path = tmp_path / "scenario.yaml"
    path.write_text(source, encoding="utf-8")
    config = tocsin.load_config(ROOT / "examples" / "tocsin.yaml", plugins().registry)
    result = simulate(load_scenario(path), config, plugins())
    assert compare(result) == []
    assert [entry["event"] for entry in result.timeline][:3] == ["maintenance", "incident_processed", "started"]
