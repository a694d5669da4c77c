"""Smart escalation through the CLI: the example "Done when" policies with ``tocsin test``, skipped levels and
urgency in ``tocsin simulate``, and config errors in ``tocsin check``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from support.docs import ROOT

from tocsin.simulation.scenario import load_scenario

SMART = ROOT / "examples" / "smart"
CONFIG = SMART / "tocsin.yaml"
SCENARIOS = SMART / "scenarios"


def tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_example_config_checks_clean():
    done = tocsin("check", CONFIG)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_done_when_scenarios_pass_with_tocsin_test():
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) == 6
    done = tocsin("test", "--config", CONFIG, *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "6 passed, 0 failed"


def test_simulate_shows_the_skipped_lead_after_hours():
    done = tocsin("simulate", CONFIG, SCENARIOS / "p1-after-hours.yaml", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "acknowledged"
    assert document["timeline"][2:] == [
        {"at": "2026-03-24T22:00:00+01:00", "minute": 0, "event": "level_fired", "level": 0, "pass": 0},
        {
            "at": "2026-03-24T22:00:00+01:00",
            "minute": 0,
            "event": "notify",
            "level": 0,
            "pass": 0,
            "recipient": "ben@example.com",
            "channel": "log",
        },
        {
            "at": "2026-03-24T22:05:00+01:00",
            "minute": 5,
            "event": "level_skipped",
            "level": 1,
            "pass": 0,
            "detail": "due Tue 2026-03-24 22:05 Europe/Berlin: outside working hours 'business'",
        },
        {"at": "2026-03-24T22:05:00+01:00", "minute": 5, "event": "level_fired", "level": 2, "pass": 0},
        {
            "at": "2026-03-24T22:05:00+01:00",
            "minute": 5,
            "event": "notify",
            "level": 2,
            "pass": 0,
            "recipient": "dev@example.com",
            "channel": "log",
        },
        {
            "at": "2026-03-24T22:07:00+01:00",
            "minute": 7,
            "event": "acknowledged",
            "by": "dev@example.com",
        },
    ]


def test_simulate_prints_skipped_levels_and_round_robin_steps_in_the_text_timeline():
    done = tocsin("simulate", CONFIG, SCENARIOS / "p1-business-hours.yaml")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        "      5m  14:05:00  level_skipped      L2 p0   due Tue 2026-03-24 14:05 Europe/Berlin: inside working hours "
        "'business'" in lines
    )
    done = tocsin("simulate", CONFIG, SCENARIOS / "dba-round-robin.yaml")
    assert "      5m  14:05:00  rotated            L0 p0   1 recipient(s); round robin step 1: dba2@example.com" in (
        done.stdout.splitlines()
    )


def test_low_urgency_pages_say_so_in_the_timeline():
    done = tocsin("simulate", CONFIG, SCENARIOS / "p3-friday-night.yaml", "--json")
    assert done.returncode == 0, done.stderr
    pages = [entry for entry in json.loads(done.stdout)["timeline"] if entry["event"] == "notify"]
    assert [(page["minute"], page["recipient"], page["urgency"]) for page in pages] == [
        (3450, "ana@example.com", "low"),
        (3450, "ops-chat@example.com", "low"),
    ]
    assert pages[0]["at"] == "2026-03-30T09:30:00+02:00"  # the scenario's timezone: Berlin wall-clock time
    done = tocsin("simulate", CONFIG, SCENARIOS / "p3-friday-night.yaml")
    assert "   3450m  2026-03-30 09:30:00  notify             L0 p0   ana@example.com via log (low urgency)" in (
        done.stdout.splitlines()
    )


def test_a_scenario_timezone_places_a_naive_start_and_must_be_known(tmp_path):
    document = {
        "start": "2026-03-27T23:00:00",
        "timezone": "Europe/Berlin",
        "incident": {"title": "x", "severity": "P3"},
    }
    scenario = tmp_path / "naive.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert load_scenario(scenario).start.isoformat() == "2026-03-27T23:00:00+01:00"
    scenario.write_text(yaml.safe_dump({**document, "timezone": "Europe/Berln"}), encoding="utf-8")
    done = tocsin("simulate", CONFIG, scenario)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{scenario}: $.timezone: unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)"
    ]


def test_a_wrong_expectation_about_business_hours_fails_with_a_diff(tmp_path):
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "lead paged at night?",
                "start": "2026-03-24T22:00:00+01:00",
                "incident": {"title": "Checkout errors", "severity": "P1"},
                "until": "1h",
                "expect": {"pages": [{"at": "5m", "level": 1, "recipient": "lead@example.com"}], "no_more_pages": True},
            }
        ),
        encoding="utf-8",
    )
    done = tocsin("test", "--config", CONFIG, scenario)
    assert done.returncode == 1
    out = done.stdout.splitlines()
    assert "  - missing page:    at 5m level 1 to lead@example.com" in out
    assert "  + unexpected page: at 5m level 2 pass 0 to dev@example.com (via log)" in out
    assert "  + unexpected page: at 0m level 0 pass 0 to ben@example.com (via log)" in out
    assert out[-1] == "0 passed, 1 failed"


def test_check_reports_every_smart_fault_with_its_path(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text(
        """
working_hours:
  business: {timezone: Europe/Berlin, intervals: []}
  nights: {timezone: Europe/Berlin, intervals: [{days: [6, 7], start: "22:00", end: "06:00"}]}
policies:
  - id: p
    levels:
      - {targets: [{type: user, email: a@example.com}], when: {during: busines}}
      - {targets: [{type: user, email: a@example.com}], delay_counts_during: weekends}
""",
        encoding="utf-8",
    )
    done = tocsin("check", config)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{config}: $.working_hours['business'].intervals: a working-hours window needs at least one interval",
        f"{config}: $.working_hours['nights'].intervals[0].days: unknown day 7: days are 0 (Sunday) to 6 (Saturday)",
        # in the same pass: the references to windows that do not exist at all
        f"{config}: $.policies[0].levels[0].when.during: unknown working-hours window 'busines'; "
        "known: business, nights",
        f"{config}: $.policies[0].levels[1].delay_counts_during: unknown working-hours window 'weekends'; "
        "known: business, nights",
    ]
    config.write_text(
        """
working_hours:
  business: {timezone: Europe/Berlin, intervals: [{days: [1], start: "09:00", end: "17:00"}]}
policies:
  - id: p
    levels:
      - {targets: [{type: user, email: a@example.com}], when: {during: busines}}
      - {targets: [{type: user, email: a@example.com}], delay_counts_during: weekends}
""",
        encoding="utf-8",
    )
    done = tocsin("check", config)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{config}: $.policies[0].levels[0].when.during: unknown working-hours window 'busines'; known: business",
        f"{config}: $.policies[0].levels[1].delay_counts_during: unknown working-hours window 'weekends'; "
        "known: business",
    ]
    assert "Traceback" not in done.stderr
