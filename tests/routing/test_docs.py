"""Every example in docs/routing.md works as written."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.routing import builtin_registry

import tocsin
from tocsin.delivery.playbooks import playbook_key
from tocsin.plugins.playbook_webhook import run_payload

DOC = ROOT / "docs" / "routing.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = code_blocks(TEXT, "python")
YAML = code_blocks(TEXT, "yaml")
JSON = code_blocks(TEXT, "json")
PLAYBOOKS = TEXT[TEXT.index("## Playbooks") : TEXT.index("## Trying rules")]
ROUTE = TEXT[TEXT.index("## Trying rules") :]


def test_the_routing_guide_has_examples():
    assert (len(PYTHON), len(YAML), len(JSON)) == (5, 3, 2)


@pytest.mark.parametrize("source", PYTHON, ids=[f"python-{n}" for n in range(1, len(PYTHON) + 1)])
def test_each_python_example_runs(source):
    exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})


def test_the_config_and_incident_examples_route_as_the_json_example_says():
    config = tocsin.parse_config(yaml.safe_load(YAML[0]), builtin_registry(), source="tocsin.yaml")
    (incident_block,) = code_blocks(ROUTE, "yaml")
    incident = tocsin.incident_from_json(yaml.safe_load(incident_block), source="incident.yaml")
    explained = tocsin.RoutingRuleEvaluator(builtin_registry(), config.rules).explain(incident)
    result = explained.result
    shown = json.loads(code_blocks(ROUTE, "json")[0])
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


def test_the_playbook_example_loads_and_its_body_is_what_the_webhook_playbook_sends():
    (config_block,) = code_blocks(PLAYBOOKS, "yaml")
    (body_block,) = code_blocks(PLAYBOOKS, "json")
    config = tocsin.parse_config(yaml.safe_load(config_block), builtin_registry(), source="tocsin.yaml")
    playbook = config.playbooks["restart-db"]
    shown = json.loads(body_block)
    request = tocsin.PlaybookRun(
        playbook_id="restart-db",
        key=shown["idempotency_key"],
        incident=tocsin.Incident(id="inc-1", title="DB down", severity="P1"),
        incident_id="inc-1",
        requested_at=datetime.fromisoformat(shown["requested_at"]),
    )
    sent = run_payload(playbook, request)
    assert list(sent) == list(shown)
    assert {key: value for key, value in shown.items() if key != "incident"} == {
        key: value for key, value in sent.items() if key != "incident"
    }
    assert shown["idempotency_key"] == playbook_key("inc-1", "restart-db")
    assert {key: sent["incident"][key] for key in shown["incident"] if key != "..."} == {
        key: value for key, value in shown["incident"].items() if key != "..."
    }


def test_the_playbook_errors_are_what_check_reports():
    (config_block,) = code_blocks(PLAYBOOKS, "yaml")
    (errors,) = code_blocks(PLAYBOOKS, starting="tocsin.yaml: ")
    document = yaml.safe_load(config_block)
    document["playbooks"]["restart-db"]["url"] = "automation.example.com/run"
    reported = []
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(document, builtin_registry(), source="tocsin.yaml")
    reported += [str(issue) for issue in caught.value.issues]
    document = yaml.safe_load(config_block)
    document["rules"][0]["actions"][0]["playbook_id"] = "restart-dbs"
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(document, builtin_registry(), source="tocsin.yaml")
    reported += [str(issue) for issue in caught.value.issues]
    assert reported == errors.splitlines()
