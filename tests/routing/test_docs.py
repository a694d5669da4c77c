"""Every example in docs/routing.md works as written."""

from __future__ import annotations

import json

import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.routing import builtin_registry

import tocsin

DOC = ROOT / "docs" / "routing.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = code_blocks(TEXT, "python")
YAML = code_blocks(TEXT, "yaml")
JSON = code_blocks(TEXT, "json")


def test_the_routing_guide_has_examples():
    assert (len(PYTHON), len(YAML), len(JSON)) == (5, 2, 1)


@pytest.mark.parametrize("source", PYTHON, ids=[f"python-{n}" for n in range(1, len(PYTHON) + 1)])
def test_each_python_example_runs(source):
    exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})


def test_the_config_and_incident_examples_route_as_the_json_example_says():
    config = tocsin.parse_config(yaml.safe_load(YAML[0]), builtin_registry(), source="tocsin.yaml")
    incident = tocsin.incident_from_json(yaml.safe_load(YAML[1]), source="incident.yaml")
    explained = tocsin.RoutingRuleEvaluator(builtin_registry(), config.rules).explain(incident)
    result = explained.result
    shown = json.loads(JSON[0])
    assert shown["matched"] == [{"rule": rule.name, "priority": rule.priority} for rule in result.matched]
    assert shown["policy"] == tocsin.select_policy(config.policies, result.incident, result.policy_id).id
    assert shown["explain"] == explained.to_json()
    written = tocsin.incident_to_json(result.incident)
    assert {key: value for key, value in shown["incident"].items() if key not in ("id", "…")} == {
        key: written[key] for key in shown["incident"] if key not in ("id", "…")
    }


def test_every_builtin_operator_field_and_action_is_documented():
    registry = builtin_registry()
    for name in registry.operators.names():
        assert f"| `{name}` |" in TEXT
    for name in registry.actions.names():
        assert f"| `{name}` |" in TEXT
    for entry in registry.extractors:
        assert f"`{entry.name}" in TEXT
