"""``tocsin route CONFIG INCIDENT_FILE [--explain] [--json]`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

CONFIG = {
    "teams": {"platform": ["eng1@example.com"]},
    "policies": [
        {
            "id": "standard-p1",
            "severity_filter": ["P0", "P1"],
            "priority": 10,
            "levels": [{"delay_minutes": 0, "targets": [{"type": "team", "team_id": "platform"}]}],
        },
        {"id": "security", "levels": [{"targets": [{"type": "user", "email": "sec-lead@example.com"}]}]},
        {"id": "fallback", "levels": [{"targets": [{"type": "user", "email": "ops@example.com"}]}]},
    ],
    "rules": [
        {
            "name": "Route Security Incidents",
            "priority": 100,
            "conditions": [
                {"field": "incident_type", "operator": "equals", "value": "Security"},
                {"field": "severity", "operator": "in", "value": ["P0", "P1"]},
            ],
            "actions": [
                {"type": "notify", "channels": ["#security-incidents"]},
                {"type": "assign", "assignees": ["security-oncall@example.com"]},
                {"type": "add_labels", "labels": {"team": "security"}},
                {"type": "use_policy", "policy_id": "security"},
            ],
        },
        {
            "name": "Escalate [db] outages",
            "priority": 50,
            "conditions": [{"field": "title", "operator": "matches", "value": r"(?i)outage on db-\d+"}],
            "actions": [{"type": "set_severity", "severity": "P0"}, {"type": "add_labels", "labels": {"team": "db"}}],
        },
    ],
}


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(CONFIG))

    def incident(document, name="incident.yaml"):
        path = tmp_path / name
        path.write_text(json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document))
        return str(config), str(path)

    return incident


def tocsin(*args):
    env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "tocsin", *args], capture_output=True, text=True, env=env, timeout=60)


def test_route_json_reports_matches_the_changed_incident_and_the_policy(files):
    config, incident = files({"title": "Outage on DB-7", "severity": "P2", "incident_type": "Data"}, "incident.json")
    result = tocsin("route", config, incident, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"matched", "incident", "policy"}
    assert document["matched"] == [{"rule": "Escalate [db] outages", "priority": 50}]
    assert document["incident"]["severity"] == "P0"  # actions ran before the policy was chosen
    assert document["incident"]["labels"] == {"team": "db"}
    assert document["policy"] == "standard-p1"


def test_use_policy_overrides_the_severity_choice_and_the_first_rule_wins(files):
    config, incident = files({"title": "Outage on db-1", "severity": "P1", "incident_type": "Security"})
    document = json.loads(tocsin("route", config, incident, "--json", "--explain").stdout)
    assert [m["rule"] for m in document["matched"]] == ["Route Security Incidents", "Escalate [db] outages"]
    assert document["policy"] == "security"
    assert document["incident"]["labels"] == {"team": "security"}
    assert document["incident"]["assignees"] == ["security-oncall@example.com"]
    security, outage = document["explain"]
    assert [c["result"] for c in security["conditions"]] == [True, True]
    assert {"rule": "Escalate [db] outages", "action": "add_labels", "status": "ignored"}.items() <= outage["actions"][
        1
    ].items()


def test_explain_json_says_why_a_rule_did_not_match(files):
    config, incident = files({"title": "Disk full", "severity": "P3", "incident_type": "Security"})
    document = json.loads(tocsin("route", config, incident, "--json", "--explain").stdout)
    assert document["matched"] == []
    assert document["policy"] == "security"  # empty filters and equal priorities: the first defined
    security = document["explain"][0]
    assert security["reason"] == "false: severity in"
    assert security["conditions"][1] == {
        "field": "severity",
        "operator": "in",
        "expected": ["P0", "P1"],
        "value": "P3",
        "missing": False,
        "result": False,
        "error": None,
    }


def test_the_default_output_is_a_readable_table(files):
    config, incident = files({"title": "Outage on db-2", "severity": "P2"})
    result = tocsin("route", config, incident, "--explain")
    assert result.returncode == 0, result.stderr
    assert "Escalate [db] outages" in result.stdout  # brackets are shown, not taken as markup
    assert "severity: P0" in result.stdout
    assert "policy: standard-p1" in result.stdout
    assert (
        "Route Security Incidents (priority 100): no match - false: incident_type equals; severity in" in result.stdout
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"title": 5, "severity": "P1"}, "incident.yaml: $.title: expected a string, got 5"),
        ({"title": "x"}, "incident.yaml: $.severity: required field missing"),
        (["not", "a", "mapping"], "incident.yaml: $: an incident must be a mapping of fields"),
    ],
)
def test_a_bad_incident_file_exits_1_with_the_path_of_the_problem(files, document, message):
    config, incident = files(document)
    result = tocsin("route", config, incident)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_bad_rule_in_the_config_exits_1(tmp_path, files):
    _, incident = files({"title": "x", "severity": "P1"})
    broken = {"rules": [{**CONFIG["rules"][0], "conditions": [{"field": "severity", "operator": "in", "value": "P0"}]}]}
    config = tmp_path / "broken.yaml"
    config.write_text(yaml.safe_dump(broken))
    result = tocsin("route", str(config), incident)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{config}: $.rules[0].conditions[0].value: 'in' needs a list, got 'P0'",
        f"{config}: $.rules[0].actions[3]: unknown policy 'security'; known: (none)",
    ]
