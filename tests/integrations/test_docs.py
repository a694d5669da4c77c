"""docs/integrations.md: its copy-paste configs are the example files verbatim, and every example works."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.integrations import plugins, service

import tocsin

DOC = ROOT / "docs" / "integrations.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples" / "integrations"
YAML = code_blocks(TEXT, "yaml")
PYTHON = code_blocks(TEXT, "python")
JSON = code_blocks(TEXT, "json")
PLUGIN = [block for block in PYTHON if block.startswith("# tocsin_uptime.py")]
RUNNABLE = [block for block in PYTHON if block.startswith("import tocsin")]


def example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["alertmanager.yml", "grafana-contact-point.yaml", "tocsin-integrations.yaml"])
def test_each_example_file_is_in_the_docs_verbatim(name):
    assert example(name) in YAML


def test_the_tocsin_example_passes_tocsin_check():
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", "check", str(EXAMPLES / "tocsin-integrations.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_tool_configs_point_at_integrations_of_their_type():
    integrations = yaml.safe_load(example("tocsin-integrations.yaml"))["integrations"]
    alertmanager = yaml.safe_load(example("alertmanager.yml"))
    (hook,) = alertmanager["receivers"][0]["webhook_configs"]
    assert alertmanager["route"]["receiver"] == alertmanager["receivers"][0]["name"]
    assert integrations[hook["url"].rsplit("/", 1)[1]]["type"] == "alertmanager"
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    grafana = yaml.safe_load(example("grafana-contact-point.yaml"))
    (receiver,) = grafana["contactPoints"][0]["receivers"]
    assert receiver["type"] == "webhook"
    assert integrations[receiver["settings"]["url"].rsplit("/", 1)[1]]["type"] == "grafana"
    assert receiver["settings"]["authorization_scheme"] == "Bearer"
    assert receiver["disableResolveMessage"] is False


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (Alertmanager's CLI) is not installed")
def test_amtool_accepts_the_alertmanager_example(tmp_path):
    token = tmp_path / "tocsin-token"
    token.write_text("a-long-random-secret-0123")
    config = tmp_path / "alertmanager.yml"
    config.write_text(example("alertmanager.yml").replace("/etc/alertmanager/tocsin-token", str(token)))
    done = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_generic_example_does_what_the_docs_say(monkeypatch):
    monkeypatch.setenv("TOCSIN_DEPLOYS_TOKEN", "a-long-random-secret-0123")
    integrations = yaml.safe_load(example("tocsin-integrations.yaml"))["integrations"]
    svc = service({"deploys": integrations["deploys"]})
    body = json.loads(JSON[-1])
    (created,) = svc.receive("deploys", body)
    incident = svc.incident("deploys/4711")
    assert (incident.title, incident.severity.value) == ("Deploy failed: checkout", "P1")
    assert incident.labels == {"service": "checkout", "environment": "production"}
    assert incident.incident_type is tocsin.IncidentType.APPLICATION
    staging = {**body, "pipeline": {**body["pipeline"], "id": 4712, "environment": "staging"}}
    svc.receive("deploys", staging)
    assert svc.incident("deploys/4712").severity is tocsin.Severity.P3
    (resolved,) = svc.receive("deploys", {**body, "status": "succeeded"})
    assert (created["result"], resolved["result"]) == ("created", "resolved")


def test_the_answer_example_is_valid_json_with_the_outcome_fields():
    answer = json.loads(JSON[0].replace("…", ""))
    outcome = tocsin.EventOutcome(
        action=tocsin.EventAction.CREATE, result=tocsin.EventResult.CREATED, dedup_key="k", incident_id="i"
    )
    assert all(set(shown) == set(outcome.to_json()) for shown in answer["outcomes"])


def test_the_hook_is_shown_with_its_exact_signature():
    assert "def tocsin_register_sources(register: SourceRegistrar) -> None:" in TEXT


def test_the_python_examples_run(tmp_path, monkeypatch):
    assert len(PLUGIN) == 1 and len(RUNNABLE) == 2
    (tmp_path / "tocsin_uptime.py").write_text(PLUGIN[0], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TOCSIN_DISABLE_PLUGIN_AUTOLOAD", "1")
    for index, source in enumerate(RUNNABLE):
        exec(compile(source, f"{DOC.name} example {index + 1}", "exec"), {"__name__": "docs_example"})
    sys.modules.pop("tocsin_uptime", None)


def test_the_config_reference_matches_the_defaults():
    for default in ("critical: P1", "high: P2", "error: P2", "warning: P3", "info: P4"):
        assert default in TEXT
    table = dict(tocsin.integrations.events.DEFAULT_SEVERITY_MAP)
    assert {key: value.value for key, value in table.items()} == {
        "critical": "P1",
        "high": "P2",
        "error": "P2",
        "warning": "P3",
        "info": "P4",
    }
    assert plugins().registry.sources.names() == ["alertmanager", "generic", "grafana"]


def test_the_heartbeat_example_is_a_valid_config():
    (source,) = [block for block in YAML if block.startswith("# tocsin.yaml: the heartbeats section")]
    config = tocsin.parse_config(yaml.safe_load(source), plugins().registry, source="docs/integrations.md")
    heartbeat = config.heartbeats["nightly-backup"]
    assert (heartbeat.period.total_seconds(), heartbeat.token_env) == (25 * 3600, "BACKUP_HEARTBEAT_TOKEN")
    assert heartbeat.incident.title == "Nightly backup did not check in"
