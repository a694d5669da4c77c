"""``tocsin simulate`` and ``tocsin test`` as a user runs them, and the escalation parts of ``tocsin check``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.docs import ROOT

EXAMPLE = ROOT / "examples" / "tocsin.yaml"
SCENARIOS = ROOT / "examples" / "scenarios"


def tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


def write(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_simulate_prints_the_expected_timeline_for_the_design_example():
    done = tocsin("simulate", EXAMPLE, SCENARIOS / "p1-sunday-night.yaml", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "acknowledged"
    assert document["timeline"] == [
        {
            "at": "2026-03-01T03:00:00-05:00",
            "minute": 0,
            "event": "incident_processed",
            "matched": [],
            "policy": "standard-p1",
        },
        {"at": "2026-03-01T03:00:00-05:00", "minute": 0, "event": "started", "policy": "standard-p1"},
        {"at": "2026-03-01T03:00:00-05:00", "minute": 0, "event": "level_fired", "level": 0, "pass": 0},
        {
            "at": "2026-03-01T03:00:00-05:00",
            "minute": 0,
            "event": "notify",
            "level": 0,
            "pass": 0,
            "recipient": "oncall2@example.com",
            "channel": "log",
        },
        {"at": "2026-03-01T03:05:00-05:00", "minute": 5, "event": "level_fired", "level": 1, "pass": 0},
        {
            "at": "2026-03-01T03:05:00-05:00",
            "minute": 5,
            "event": "notify",
            "level": 1,
            "pass": 0,
            "recipient": "team-lead@example.com",
            "channel": "log",
        },
        {"at": "2026-03-01T03:07:00-05:00", "minute": 7, "event": "acknowledged", "by": "team-lead@example.com"},
    ]
    assert '"page"' not in done.stderr and "audit" not in done.stderr  # nothing delivered, nothing audited


def test_simulate_without_json_prints_one_line_per_entry():
    done = tocsin("simulate", EXAMPLE, SCENARIOS / "security-resolved.yaml")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Security P0 resolved within ten minutes (from 2026-03-03T14:00:00-05:00)"
    assert any("announce" in line and "#security-incidents via webhook" in line for line in lines)
    assert any(line.split()[:4] == ["5m", "14:05:00", "notify", "L1"] for line in lines)
    assert lines[-1] == "status: resolved"


def test_the_example_scenarios_pass():
    done = tocsin("test", "--config", EXAMPLE, *sorted(SCENARIOS.glob("*.yaml")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "4 passed, 0 failed"


def test_whoever_the_last_level_paged_acknowledges_in_a_scenario():
    done = tocsin("simulate", EXAMPLE, SCENARIOS / "p1-acknowledged-after-the-last-level.yaml", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "acknowledged"
    kinds = [(entry["minute"], entry["event"]) for entry in document["timeline"] if entry["event"] != "notify"]
    assert kinds[-2:] == [(120, "completed"), (150, "acknowledged")]
    assert not any(entry["event"] == "rejected" for entry in document["timeline"])


def test_a_scenario_that_does_not_match_fails_with_a_readable_diff(tmp_path):
    scenario = write(
        tmp_path / "wrong.yaml",
        {
            "name": "lead paged too late",
            "start": "2026-03-01T03:00:00-05:00",
            "incident": {"title": "DB down", "severity": "P1"},
            "events": [{"at": "16m", "action": "acknowledge", "by": "eng1@example.com"}],
            "until": "1h",
            "expect": {
                "pages": [
                    {"at": "0m", "level": 0, "recipient": "oncall2@example.com"},
                    {"at": "10m", "level": 1, "recipient": "team-lead@example.com"},
                ],
                "no_more_pages": True,
                "status": "resolved",
            },
        },
    )
    done = tocsin("test", "--config", EXAMPLE, scenario, SCENARIOS / "p1-sunday-night.yaml")
    assert done.returncode == 1
    out = done.stdout.splitlines()
    assert f"FAIL lead paged too late ({scenario})" in out
    assert "  - missing page:    at 10m level 1 to team-lead@example.com" in out
    assert "  + unexpected page: at 5m level 1 pass 0 to team-lead@example.com (via log)" in out
    assert "  + unexpected page: at 15m level 2 pass 0 to eng1@example.com (via webhook)" in out
    assert "  + unexpected page: at 15m level 2 pass 0 to eng2@example.com (via log)" in out
    assert "    status: expected resolved, got acknowledged" in out
    assert out[-1] == "1 passed, 1 failed"
    assert "Traceback" not in done.stderr


def test_scenario_errors_name_the_file_and_the_path_and_exit_1(tmp_path):
    scenario = write(
        tmp_path / "broken.yaml",
        {
            "start": "soon",
            "incident": {"title": "x", "severity": "P7"},
            "events": [{"at": "5 minutes", "action": "ack"}],
            "expect": {"pages": [{"at": "1m", "level": "one"}]},
        },
    )
    done = tocsin("simulate", EXAMPLE, scenario)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{scenario}: $.start: expected an ISO 8601 date-time such as 2026-03-01T03:00:00Z, got 'soon'",
        f"{scenario}: $.events[0].at: expected a duration such as 30s, 7m, 2h or 1d, got '5 minutes'",
        f"{scenario}: $.events[0].action: expected one of acknowledge, resolve, cancel, escalate, snooze, override, "
        "maintenance, heartbeat; got 'ack'",
        f"{scenario}: $.expect.pages[0].level: expected a whole number (0 or more), got 'one'",
        f"{scenario}: $.incident.severity: expected one of P0, P1, P2, P3, P4; got 'P7'",
    ]


def test_a_scenario_without_expectations_fails_the_test_command(tmp_path):
    scenario = write(
        tmp_path / "plain.yaml", {"start": "2026-03-01T03:00:00Z", "incident": {"title": "x", "severity": "P1"}}
    )
    done = tocsin("test", "--config", EXAMPLE, scenario)
    assert done.returncode == 1
    assert "  the scenario has no expect block" in done.stdout.splitlines()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["policies"][0]["levels"][2]["targets"].append({"type": "team", "team_id": "dba"}),
            "$.policies[0].levels[2].targets[1]: unknown team 'dba'; known: platform",
        ),
        (
            lambda c: c["policies"][0]["levels"][0]["targets"].append({"type": "schedule", "schedule_id": "x"}),
            "$.policies[0].levels[0].targets[1]: unknown schedule 'x'; known: primary-oncall",
        ),
        (
            lambda c: c["users"].update({"eng2@example.com": {"contacts": [{"type": "email"}]}}),
            "$.users['eng2@example.com'].contacts[0]: channel 'email' needs settings: add a channels.email section",
        ),
        (
            lambda c: c["policies"][0]["levels"][1]["targets"].append({"type": "webhook", "url": "ftp://x"}),
            "$.policies[0].levels[1].targets[1].url: needs an http:// or https:// URL, got 'ftp://x'",
        ),
        (
            lambda c: c["notify_channels"].update({"#ops": {"type": "pigeon"}}),
            "$.notify_channels['#ops']: unknown channel type 'pigeon'; known: apprise, email, log, slack, webhook",
        ),
    ],
)
def test_check_reports_escalation_config_faults_with_their_path(tmp_path, change, message):
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    change(config)
    path = write(tmp_path / "tocsin.yaml", config)
    done = tocsin("check", path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{path}: {message}"]


def test_version_prints_the_installed_distributions_version():
    from importlib.metadata import version

    done = tocsin("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"tocsin {version('tocsin')}"


def test_a_timeline_that_spans_days_shows_the_date(tmp_path):
    scenario = write(
        tmp_path / "overnight.yaml",
        {
            "name": "acknowledged the next morning",
            "start": "2026-03-01T23:50:00-05:00",
            "incident": {"title": "DB down", "severity": "P1"},
            "events": [{"at": "30m", "action": "acknowledge", "by": "eng1@example.com"}],
            "until": "1h",
        },
    )
    lines = tocsin("simulate", EXAMPLE, scenario).stdout.splitlines()
    assert lines[2].split()[:3] == ["0m", "2026-03-01", "23:50:00"]
    assert any(line.split()[:4] == ["30m", "2026-03-02", "00:20:00", "acknowledged"] for line in lines)
    same_day = tocsin("simulate", EXAMPLE, SCENARIOS / "p1-sunday-night.yaml").stdout.splitlines()
    assert same_day[2].split()[:2] == ["0m", "03:00:00"]  # one day: the time alone, as before
