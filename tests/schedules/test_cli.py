"""``tocsin oncall`` as a user runs it: JSON and tables, ranges, gaps, the iCalendar feed, and mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import icalendar
import pytest
import yaml
from support.schedules import at, builtin_registry
from typer.testing import CliRunner

import tocsin
from tocsin.cli import app

CONFIG = {
    "schedules": [
        {
            "id": "primary-oncall",
            "name": "Primary On-Call",
            "timezone": "America/New_York",
            "layers": [
                {
                    "name": "Primary",
                    "users": ["engineer1@example.com", "engineer2@example.com"],
                    "start": "2026-03-02T09:00:00",
                    "rotation": {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9},
                    "restrictions": {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17},
                },
            ],
            "overrides": [{"user": "cover@example.com", "start": "2026-03-12T09:00:00", "end": "2026-03-12T13:00:00"}],
        },
        {"id": "backup", "layers": [{"name": "B", "users": ["b@example.com"], "rotation": {"type": "hourly"}}]},
    ]
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return str(path)


def run(*args: str):
    """``tocsin ARGS…`` in this process."""
    return CliRunner().invoke(app, list(args))


def test_oncall_json_names_the_user_layer_and_shift(config):
    result = run("oncall", config, "primary-oncall", "--at", "2026-03-09T10:00:00", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "schedule": "primary-oncall",
        "at": "2026-03-09T10:00:00-04:00",  # read in the schedule's zone: DST has begun
        "oncall": [
            {
                "user": "engineer2@example.com",
                "layer": "Primary",
                "shift_start": "2026-03-09T09:00:00-04:00",
                "shift_end": "2026-03-09T17:00:00-04:00",
            }
        ],
    }


def test_oncall_accepts_an_instant_with_an_offset(config):
    result = run("oncall", config, "primary-oncall", "--at", "2026-03-09T14:00:00Z", "--json")
    assert json.loads(result.stdout)["at"] == "2026-03-09T10:00:00-04:00"


def test_nobody_on_call_is_an_empty_list(config):
    result = run("oncall", config, "primary-oncall", "--at", "2026-03-14T12:00:00", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["oncall"] == []


def test_the_table_shows_the_same_answer(config):
    result = run("oncall", config, "primary-oncall", "--at", "2026-03-09T10:00:00")
    assert result.exit_code == 0
    assert "engineer2@example.com" in result.stdout
    assert "2026-03-09T17:00:00-04:00" in result.stdout
    quiet = run("oncall", config, "primary-oncall", "--at", "2026-03-14T12:00:00")
    assert "nobody is on call" in quiet.stdout


def test_shifts_over_a_range_apply_restrictions_and_overrides(config):
    result = run(
        "oncall",
        config,
        "primary-oncall",
        "--shifts",
        "--start",
        "2026-03-12T00:00",
        "--end",
        "2026-03-14T00:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    shifts = json.loads(result.stdout)["shifts"]
    assert [(s["user"], s["layer"], s["start"], s["end"]) for s in shifts] == [
        ("cover@example.com", "override", "2026-03-12T09:00:00-04:00", "2026-03-12T13:00:00-04:00"),
        ("engineer2@example.com", "Primary", "2026-03-12T13:00:00-04:00", "2026-03-12T17:00:00-04:00"),
        ("engineer2@example.com", "Primary", "2026-03-13T09:00:00-04:00", "2026-03-13T17:00:00-04:00"),
    ]
    assert all(set(s) == {"user", "layer", "start", "end"} for s in shifts)


def test_gaps_list_the_uncovered_stretches(config):
    result = run(
        "oncall",
        config,
        "primary-oncall",
        "--gaps",
        "--start",
        "2026-03-13T00:00",
        "--end",
        "2026-03-16T12:00",
        "--json",
    )
    assert json.loads(result.stdout)["gaps"] == [
        {"start": "2026-03-13T00:00:00-04:00", "end": "2026-03-13T09:00:00-04:00"},
        {"start": "2026-03-13T17:00:00-04:00", "end": "2026-03-16T09:00:00-04:00"},
    ]


def test_the_ical_feed_is_a_valid_calendar_with_the_time_zone(config):
    result = run(
        "oncall", config, "primary-oncall", "--ical", "--start", "2026-03-05T00:00", "--end", "2026-03-10T00:00"
    )
    assert result.exit_code == 0, result.output
    calendar = icalendar.Calendar.from_ical(result.stdout)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "America/New_York"
    assert {sub.name for sub in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}  # the range crosses March 8
    events = calendar.walk("VEVENT")
    assert [(str(e["SUMMARY"]), e.start.isoformat(), e.end.isoformat()) for e in events] == [
        ("On call: engineer1@example.com (Primary)", "2026-03-05T09:00:00-05:00", "2026-03-05T17:00:00-05:00"),
        ("On call: engineer1@example.com (Primary)", "2026-03-06T09:00:00-05:00", "2026-03-06T17:00:00-05:00"),
        ("On call: engineer2@example.com (Primary)", "2026-03-09T09:00:00-04:00", "2026-03-09T17:00:00-04:00"),
    ]
    assert all(e["DTSTART"].params["TZID"] == "America/New_York" and e["UID"] and e["DTSTAMP"] for e in events)
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_the_ical_feed_from_python_has_stable_uids():
    config = tocsin.parse_config(CONFIG, builtin_registry())
    resolver = tocsin.compile_schedule(config.schedules[0], builtin_registry())
    stamp = datetime.fromisoformat("2026-03-01T00:00:00Z")
    low, high = at("2026-03-05T00:00:00-05:00"), at("2026-03-10T00:00:00-04:00")
    assert resolver.to_ical(low, high, stamp=stamp) == resolver.to_ical(low, high, stamp=stamp)
    assert b"DTSTAMP:20260301T000000Z" in resolver.to_ical(low, high, stamp=stamp)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown schedule 'nope'; known: 'primary-oncall', 'backup'"),
        (["primary-oncall", "--at", "yesterday"], "--at: expected an ISO 8601 date-time"),
        (["primary-oncall", "--shifts", "--start", "2026-03-10", "--end", "2026-03-09"], "--end"),
        (["primary-oncall", "--shifts", "--gaps"], "choose one of --shifts, --gaps and --ical"),
    ],
)
def test_mistakes_exit_1_with_a_message_and_no_traceback(config, args, message):
    result = run("oncall", config, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_the_installed_command_answers_from_a_config_file(config):
    command = [sys.executable, "-c", "from tocsin.cli import main; main()", "oncall", config, "backup", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert [entry["user"] for entry in json.loads(result.stdout)["oncall"]] == ["b@example.com"]
