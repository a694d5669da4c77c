"""Rules in config files: every fault reported at load as ``FILE: $.path: message``."""

from __future__ import annotations

import pytest
import yaml
from support.routing import builtin_registry

import tocsin
from tocsin.testing import ConfigBuilder

GOOD_RULE = {
    "name": "Route Security Incidents",
    "priority": 100,
    "stop": True,
    "conditions": [
        {"field": "incident_type", "operator": "equals", "value": "Security"},
        {"field": "severity", "operator": "in", "value": ["P0", "P1"]},
        {"field": "labels.env", "operator": "exists"},
    ],
    "actions": [
        {"type": "notify", "channels": ["#security-incidents"]},
        {"type": "assign", "assignees": ["security-oncall@example.com"]},
        {"type": "apply_playbook", "playbook_id": "isolate-host"},
        {"type": "add_labels", "labels": {"team": "security"}},
        {"type": "set_severity", "severity": "P0"},
        {"type": "suppress", "duration_minutes": 15},
    ],
}


PLAYBOOKS = {"isolate-host": {"type": "webhook", "url": "https://automation.example.com/isolate"}}


@pytest.fixture
def faults(tocsin_plugins):
    """The lines ``tocsin check tocsin.yaml`` prints for a document (tocsin's own config builder reads it)."""
    return lambda document: ConfigBuilder(tocsin_plugins.registry).merge(document).faults(source="tocsin.yaml")


def test_a_good_rule_loads_with_every_action_type(tocsin_config):
    config = tocsin_config.merge({"playbooks": PLAYBOOKS, "rules": [GOOD_RULE]}).build()
    [rule] = config.rules
    assert [action.type for action in rule.actions] == [
        "notify",
        "assign",
        "apply_playbook",
        "add_labels",
        "set_severity",
        "suppress",
    ]
    assert rule.stop is True


def test_a_rule_round_trips_through_dump_config():
    registry = builtin_registry()
    config = tocsin.parse_config({"playbooks": PLAYBOOKS, "rules": [GOOD_RULE]}, registry)
    assert tocsin.parse_config(tocsin.dump_config(config, registry), registry) == config


def test_condition_faults_name_the_rule_condition_and_part(faults):
    rule = {
        **GOOD_RULE,
        "conditions": [
            {"field": "severity", "operator": "in", "value": "P0"},
            {"field": "titel", "operator": "equals", "value": "x"},
            {"field": "title", "operator": "eq", "value": "x"},
            {"field": "priority_score", "operator": "greater_than", "value": "3"},
            {"field": "title", "operator": "matches", "value": "(oops"},
            {"field": "title", "operator": "not_exists", "value": "x"},
        ],
    }
    found = faults({"playbooks": PLAYBOOKS, "rules": [GOOD_RULE | {"name": "other"}, rule]})
    assert found[0] == "tocsin.yaml: $.rules[1].conditions[0].value: 'in' needs a list, got 'P0'"
    assert found[1].startswith("tocsin.yaml: $.rules[1].conditions[1].field: unknown field 'titel'; known: assignees,")
    assert found[1].endswith("(did you mean 'title'?)")
    assert found[2].startswith(
        "tocsin.yaml: $.rules[1].conditions[2].operator: unknown condition operator 'eq'; known: "
    )
    assert found[3] == "tocsin.yaml: $.rules[1].conditions[3].value: 'greater_than' needs a number, got '3'"
    assert found[4].startswith(
        "tocsin.yaml: $.rules[1].conditions[4].value: 'matches' needs a valid regular expression"
    )
    assert found[5] == "tocsin.yaml: $.rules[1].conditions[5].value: 'not_exists' takes no value, got 'x'"
    assert len(found) == 6


def test_rules_need_conditions_actions_and_unique_names(faults):
    found = faults(
        {"playbooks": PLAYBOOKS, "rules": [GOOD_RULE, {"name": GOOD_RULE["name"], "conditions": [], "actions": []}]}
    )
    assert found == [
        "tocsin.yaml: $.rules[1].conditions: a rule needs at least one condition",
        "tocsin.yaml: $.rules[1].actions: a rule needs at least one action",
        "tocsin.yaml: $.rules[1].name: duplicate rule name 'Route Security Incidents' (first used at $.rules[0])",
    ]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            {"type": "teleport"},
            "$.rules[0].actions[0]: unknown action type 'teleport'; known: add_labels, apply_playbook",
        ),
        (
            {"type": "notify", "channels": "#ops"},
            "$.rules[0].actions[0].channels: expected a list of strings, got '#ops'",
        ),
        ({"type": "notify", "channels": []}, "$.rules[0].actions[0].channels: needs at least one channel"),
        ({"type": "assign", "assignees": []}, "$.rules[0].actions[0].assignees: needs at least one assignee"),
        (
            {"type": "add_labels", "labels": {"team": 5}},
            "$.rules[0].actions[0].labels['team']: expected a string, got 5",
        ),
        (
            {"type": "set_severity", "severity": "P9"},
            "$.rules[0].actions[0].severity: expected one of P0, P1, P2, P3, P4",
        ),
        (
            {"type": "suppress", "duration_minutes": 0},
            "$.rules[0].actions[0].duration_minutes: must be 1 or more",
        ),
        ({"type": "suppress", "duration_minutes": "5"}, "$.rules[0].actions[0].duration_minutes: expected an integer"),
        ({"type": "apply_playbook", "playbook_id": ""}, "$.rules[0].actions[0].playbook_id: must not be empty"),
        ({"type": "use_policy", "policy_id": "nope"}, "$.rules[0].actions[0]: unknown policy 'nope'; known: (none)"),
        (
            {"type": "apply_playbook", "playbook_id": "isolate-hots"},
            "$.rules[0].actions[0]: unknown playbook 'isolate-hots'; known: isolate-host "
            "(did you mean 'isolate-host'?)",
        ),
    ],
)
def test_action_faults_say_what_is_wrong(faults, action, message):
    [found] = faults({"playbooks": PLAYBOOKS, "rules": [{**GOOD_RULE, "actions": [action]}]})
    assert found.startswith(f"tocsin.yaml: {message}")


def test_load_config_reads_rules_from_yaml(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump({"playbooks": PLAYBOOKS, "rules": [GOOD_RULE]}))
    config = tocsin.load_config(path, builtin_registry())
    routing = tocsin.RoutingRuleEvaluator(builtin_registry(), config.rules)
    breach = tocsin.Incident(title="t", severity="P1", incident_type="Security", labels={"env": "prod"})
    assert [rule.name for rule in routing.evaluate_incident(breach)] == ["Route Security Incidents"]
