"""Playbooks from the command line: ``route --explain`` says what each action would do, ``check`` reports a bad
playbook with its path, ``plugins`` lists the playbook types, and ``simulate`` shows the run it would queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

CONFIG = {
    "policies": [{"id": "db", "levels": [{"targets": [{"type": "user", "email": "dba@example.com"}]}]}],
    "playbooks": {
        "restart-db": {"type": "webhook", "url": "https://automation.example.com/run/restart-db"},
        "page-vendor": {"type": "webhook", "url": "https://vendor.example.com/escalate"},
    },
    "rules": [
        {
            "name": "Heal the database",
            "priority": 10,
            "conditions": [{"field": "labels.service", "operator": "equals", "value": "db"}],
            "actions": [
                {"type": "apply_playbook", "playbook_id": "restart-db"},
                {"type": "add_labels", "labels": {"healing": "yes"}},
            ],
        },
        {
            "name": "Heal again",
            "priority": 5,
            "conditions": [{"field": "severity", "operator": "in", "value": ["P0", "P1"]}],
            "actions": [{"type": "apply_playbook", "playbook_id": "restart-db"}],
        },
    ],
}


def tocsin(*args):
    env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "tocsin", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def config(tmp_path):
    def write(document=CONFIG):
        path = tmp_path / "tocsin.yaml"
        path.write_text(yaml.safe_dump(document))
        return str(path)

    return write


@pytest.fixture
def incident(tmp_path):
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump({"id": "inc-1", "title": "DB down", "severity": "P1", "labels": {"service": "db"}}))
    return str(path)


def test_route_explain_says_each_action_would_do_and_starts_nothing(config, incident):
    done = tocsin("route", config(), incident, "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  apply_playbook: applied: would queue playbook 'restart-db' (webhook) (dry run)" in lines
    assert "  apply_playbook: ignored: playbook 'restart-db' already applied by rule 'Heal the database'" in lines
    assert "  add_labels: applied: set labels healing=yes" in lines

    document = json.loads(tocsin("route", config(), incident, "--json", "--explain").stdout)
    heal, again = document["explain"]
    assert [(a["action"], a["status"]) for a in heal["actions"]] == [
        ("apply_playbook", "applied"),
        ("add_labels", "applied"),
    ]
    assert again["actions"] == [
        {
            "rule": "Heal again",
            "action": "apply_playbook",
            "status": "ignored",
            "detail": "playbook 'restart-db' already applied by rule 'Heal the database'",
        }
    ]


def test_check_reports_a_bad_playbook_and_an_unknown_one_with_their_paths(config):
    document = json.loads(json.dumps(CONFIG))
    document["playbooks"]["restart-db"]["url"] = "automation.example.com/run"
    document["playbooks"]["page-vendor"]["allow_networks"] = ["10.0.0.0/33"]
    document["rules"][1]["actions"][0]["playbook_id"] = "restart-dbs"
    path = config(document)
    done = tocsin("check", path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [  # the file's order: safe_dump sorts the keys
        f"{path}: $.playbooks['page-vendor'].allow_networks[0]: '10.0.0.0/33' is not an IP network such as "
        "127.0.0.1/32 ('10.0.0.0/33' does not appear to be an IPv4 or IPv6 network)",
        f"{path}: $.playbooks['restart-db'].url: needs an http:// or https:// URL, got 'automation.example.com/run'",
        f"{path}: $.rules[1].actions[0]: unknown playbook 'restart-dbs'; known: page-vendor, restart-db "
        "(did you mean 'restart-db'?)",
    ]  # every fault in one pass: the reference too
    document["playbooks"]["restart-db"]["url"] = "https://automation.example.com/run"
    del document["playbooks"]["page-vendor"]["allow_networks"]
    done = tocsin("check", config(document))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"{path}: $.rules[1].actions[0]: unknown playbook 'restart-dbs'; known: page-vendor, restart-db "
        "(did you mean 'restart-db'?)"
    )


def test_plugins_lists_the_webhook_playbook_type():
    document = json.loads(tocsin("plugins", "--json").stdout)
    assert document["playbooks"] == {"webhook": {"plugin": "tocsin.plugins.playbook_webhook"}}


def test_simulate_shows_the_run_it_would_queue_and_runs_nothing(config, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "start": "2026-03-02T14:00:00+00:00",
                "incident": {"title": "DB down", "severity": "P1", "labels": {"service": "db"}},
                "until": "10m",
            }
        )
    )
    done = tocsin("simulate", config(), str(scenario), "--json")
    assert done.returncode == 0, done.stderr
    timeline = json.loads(done.stdout)["timeline"]
    assert [(entry["event"], entry.get("playbook")) for entry in timeline[:2]] == [
        ("incident_processed", None),
        ("playbook", "restart-db"),
    ]
    assert [entry["recipient"] for entry in timeline if entry["event"] == "notify"] == ["dba@example.com"]
