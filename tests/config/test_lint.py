"""``tocsin check --strict``: each lint case of the fixture config is found with its path and severity, the JSON form
says the same for CI, and every configuration in examples/ lints clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "lint.yaml"
AT = "2026-03-01T00:00:00+00:00"


def tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


EXPECTED = [
    ("$.policies[0].levels[1].when", "error", "when-never-true"),
    ("$.policies[1].levels[0].targets[0]", "error", "pages-nobody"),
    ("$.policies[1]", "error", "policy-pages-nobody"),
    ("$.policies[2].levels[0].targets[0]", "error", "pages-nobody"),
    ("$.policies[2]", "error", "policy-pages-nobody"),
    ("$.policies[3].levels[0].targets[0]", "error", "pages-nobody"),
    ("$.policies[3]", "error", "policy-pages-nobody"),
    ("$.policies[5]", "warning", "policy-shadowed"),
    ("$.rules[2]", "warning", "rule-after-catch-all"),
    ("$.rules[0].actions[0].policy_id", "error", "use-disabled-policy"),
    ("$.schedules[0]", "warning", "coverage-gap"),
    ("$.schedules[1].overrides[0]", "error", "override-in-dst-gap"),
    ("$.schedules[1]", "warning", "coverage-gap"),
]


def test_strict_finds_every_lint_case_with_its_path_and_severity():
    done = tocsin("check", "--strict", FIXTURE, "--at", AT)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1] == f"{FIXTURE}: lint failed (9 errors, 4 warnings; 1 config warning(s) above, not lint findings)"
    found = [line.removeprefix(f"{FIXTURE}: ").split(": ", 2) for line in lines[:-1]]
    assert [(path, severity, message.rsplit("[", 1)[1].rstrip("]")) for path, severity, message in found] == EXPECTED
    assert "'during: business' and 'outside: business' can never both hold" in lines[0]
    assert "team 'nobody-here' has no members" in lines[1]
    assert "ana@example.com has no contact that takes low-urgency pages" in lines[3]
    assert "schedule 'next-year' has no layer active in the next 4 weeks" in lines[5]
    assert "policy 'switched-off' is disabled" in lines[9]
    assert "zero length" in lines[11]


def test_strict_json_is_the_ci_form():
    done = tocsin("check", "--strict", "--json", FIXTURE, "--at", AT)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["file"], report["ok"], report["errors"], report["warnings"]) == (str(FIXTURE), False, 9, 4)
    assert [(f["path"], f["severity"], f["code"]) for f in report["findings"]] == EXPECTED
    assert all(f["message"] for f in report["findings"])


def test_without_strict_the_fixture_loads_and_json_alone_is_refused():
    done = tocsin("check", FIXTURE)
    assert done.returncode == 0 and done.stdout.startswith(f"{FIXTURE}: ok (")
    refused = tocsin("check", "--json", FIXTURE)
    assert refused.returncode == 1 and "--json needs --strict" in refused.stderr


def test_the_weeks_looked_ahead_change_what_a_schedule_that_starts_later_can_do(tmp_path):
    done = tocsin("check", "--strict", "--json", FIXTURE, "--at", "2026-12-20T00:00:00+00:00", "--weeks", "3")
    codes = {(f["path"], f["code"]) for f in json.loads(done.stdout)["findings"]}
    assert ("$.policies[3].levels[0].targets[0]", "pages-nobody") not in codes  # the layer starts in 2 weeks


@pytest.mark.parametrize(
    "config", ["examples/tocsin.yaml", "examples/smart/tocsin.yaml", "examples/integrations/tocsin-integrations.yaml"]
)
def test_every_example_config_lints_clean(config):
    done = tocsin("check", "--strict", ROOT / config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": ok (0 errors, 0 warnings" in done.stdout.splitlines()[-1]


def test_config_warnings_are_counted_apart_from_lint_findings_and_fail_nothing():
    example = ROOT / "examples/tocsin.yaml"  # no server.public_url while a webhook contact could carry links
    done = tocsin("check", "--strict", example)
    assert done.returncode == 0
    assert "$.server.public_url: warning: not set" in done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"{example}: ok (0 errors, 0 warnings; 1 config warning(s) above, not lint findings)"
    )
    report = json.loads(tocsin("check", "--strict", "--json", example).stdout)
    assert (report["ok"], report["warnings"]) == (True, 0)
    assert [warning["path"] for warning in report["config_warnings"]] == ["$.server.public_url"]


def test_a_use_policy_naming_a_disabled_policy_fails_and_leaves_the_choice_to_a_later_rule(tmp_path):
    document = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    document["rules"] = [
        {
            "name": "Disabled first",
            "priority": 50,
            "conditions": [{"field": "severity", "operator": "equals", "value": "P1"}],
            "actions": [{"type": "use_policy", "policy_id": "switched-off"}],
        },
        {
            "name": "Then a real one",
            "priority": 10,
            "conditions": [{"field": "severity", "operator": "equals", "value": "P1"}],
            "actions": [{"type": "use_policy", "policy_id": "second-p1"}],
        },
    ]
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    incident = tmp_path / "incident.json"
    incident.write_text(json.dumps({"title": "Disk", "severity": "P1"}), encoding="utf-8")
    done = tocsin("route", config, incident, "--json", "--explain")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["policy"] == "second-p1"
    effects = [action for rule in answer["explain"] for action in rule["actions"]]
    assert [(e["rule"], e["status"]) for e in effects] == [("Disabled first", "failed"), ("Then a real one", "applied")]
    assert effects[0]["detail"] == "policy 'switched-off' is disabled: not chosen"


def lint(tmp_path, document):
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    done = tocsin("check", "--strict", "--json", config, "--at", AT)
    assert done.returncode in (0, 1), done.stderr
    return [(f["path"], f["code"], f["message"]) for f in json.loads(done.stdout)["findings"]]


OFFICE_HOURS = {
    "id": "office-hours",
    "timezone": "Europe/Berlin",
    "layers": [
        {
            "name": "Day",
            "users": ["ana@example.com"],
            "rotation": {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9},
            "restrictions": {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17},
        }
    ],
}


def test_a_fallback_covers_the_gaps_only_when_it_can_page_someone(tmp_path):
    teams = {"night-crew": ["ben@example.com"], "nobody-here": []}
    covered = {**OFFICE_HOURS, "fallback": {"type": "team", "team_id": "night-crew"}}
    assert lint(tmp_path, {"teams": teams, "schedules": [covered]}) == []
    hollow = {**OFFICE_HOURS, "fallback": {"type": "team", "team_id": "nobody-here"}}
    [(path, code, message)] = lint(tmp_path, {"teams": teams, "schedules": [hollow]})
    assert (path, code) == ("$.schedules[0]", "coverage-gap")
    assert message.endswith("; its fallback pages nobody (team 'nobody-here' has no members)")


def test_a_schedule_whose_fallback_leads_back_to_it_is_a_finding_not_a_crash(tmp_path):
    later = {
        "name": "Later",
        "users": ["ana@example.com"],
        "start": "2027-01-04T09:00:00",
        "rotation": {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9},
    }
    schedules = [{"id": "loop", "layers": [later], "fallback": {"type": "schedule", "schedule_id": "loop"}}]
    policies = [{"id": "p", "levels": [{"targets": [{"type": "schedule", "schedule_id": "loop"}]}]}]
    found = lint(tmp_path, {"schedules": schedules, "policies": policies})
    assert [(path, code) for path, code, _ in found] == [
        ("$.policies[0].levels[0].targets[0]", "pages-nobody"),
        ("$.policies[0]", "policy-pages-nobody"),
        ("$.schedules[0]", "coverage-gap"),
    ]
    assert "the fallbacks of schedule 'loop' lead back to it" in found[2][2]


def test_a_shadowed_policy_named_only_by_a_disabled_rule_is_still_shadowed(tmp_path):
    policies = [
        {
            "id": f"p{n}",
            "severity_filter": ["P1"],
            "levels": [{"targets": [{"type": "user", "email": "a@example.com"}]}],
        }
        for n in (1, 2)
    ]
    rule = {
        "name": "Pick p2",
        "conditions": [{"field": "severity", "operator": "equals", "value": "P1"}],
        "actions": [{"type": "use_policy", "policy_id": "p2"}],
    }
    assert lint(tmp_path, {"policies": policies, "rules": [rule]}) == []  # a rule can still choose p2
    found = lint(tmp_path, {"policies": policies, "rules": [{**rule, "enabled": False}]})
    assert [(path, code) for path, code, _ in found] == [("$.policies[1]", "policy-shadowed")]
