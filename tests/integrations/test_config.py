"""The ``integrations`` config section, the source extension point, and a third-party source plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from typing import Any, ClassVar

import attrs
import pytest
import yaml
from support.integrations import TOKEN, alertmanager_body, am_alert, plugins, service

import tocsin
from tocsin.integrations.events import mapping_at, string_at

EXAMPLE = {
    "integrations": {
        "prom": {
            "type": "alertmanager",
            "token_env": "PROM_TOKEN",
            "group": True,
            "severity_map": {"critical": "P1", "page": "P0"},
            "defaults": {"incident_type": "Infrastructure", "labels": {"team": "platform"}},
        },
        "grafana": {"type": "grafana", "token": TOKEN},
        "ci": {"type": "generic", "token": TOKEN, "dedup_key": "id", "title": "summary", "resolve": "ok"},
    }
}


def tocsin_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "tocsin", *args], capture_output=True, text=True, env=env, timeout=60)


def test_integrations_load_from_a_file_and_dump_back_to_the_same_document(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE))
    config = tocsin.load_config(path, plugins().registry)

    prom = config.integrations["prom"]
    assert prom.type == "alertmanager"
    assert prom.token_env == "PROM_TOKEN"
    assert prom.source.group is True
    assert prom.defaults.incident_type is tocsin.IncidentType.INFRASTRUCTURE
    assert config.integrations["ci"].source.resolve == "ok"
    dumped = tocsin.dump_config(config, plugins().registry)
    assert dumped["integrations"] == EXAMPLE["integrations"]
    assert tocsin.parse_config(dumped, plugins().registry) == config


@pytest.mark.parametrize(
    ("integration", "expected"),
    [
        ({"type": "nagios", "token": TOKEN}, "$.integrations['x']: unknown source type 'nagios'; known: alertmanager"),
        ({"token": TOKEN}, "$.integrations['x']: missing 'type'; known source types: alertmanager, generic, grafana"),
        ({"type": "grafana"}, "$.integrations['x'].token: give exactly one of token and token_env"),
        ({"type": "grafana", "token": TOKEN, "token_env": "X"}, "$.integrations['x'].token: give exactly one of"),
        ({"type": "grafana", "token": "short"}, "$.integrations['x'].token: must be at least 16 characters long"),
        ({"type": "grafana", "token": "with spaces in the token"}, "$.integrations['x'].token: must not contain"),
        ({"type": "grafana", "token": 1234567890123456789}, "$.integrations['x'].token: expected a string"),
        ({"type": "grafana", "token_env": ""}, "$.integrations['x'].token_env: must name an environment variable"),
        ({"type": "grafana", "token": TOKEN, "group": "yes"}, "$.integrations['x'].group: expected true or false"),
        ({"type": "grafana", "token": TOKEN, "groupby": True}, "$.integrations['x']: unknown field(s): groupby"),
        ({"type": "grafana", "token": TOKEN, "severity_label": ""}, "$.integrations['x'].severity_label: must name"),
        (
            {"type": "grafana", "token": TOKEN, "defaults": {"severity": "high"}},
            "['x'].defaults.severity: expected one of",
        ),
        (
            {"type": "grafana", "token": TOKEN, "defaults": {"labels": {"a": 1}}},
            "['x'].defaults.labels['a']: expected a",
        ),
        ({"type": "grafana", "token": TOKEN, "defaults": {"team": "x"}}, "['x'].defaults: unknown field(s): team"),
    ],
)
def test_a_bad_integration_is_reported_with_its_path(integration, expected):
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config({"integrations": {"x": integration}}, plugins().registry, source="tocsin.yaml")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("tocsin.yaml: $.integrations['x']")


def test_every_fault_of_an_integration_is_reported_at_once():
    bad = {"type": "alertmanager", "token": "short", "group": 1, "defaults": {"severity": "P9"}}
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config({"integrations": {"prom": bad}}, plugins().registry, source="t.yaml")
    assert sorted(issue.path for issue in caught.value.issues) == [
        "$.integrations['prom'].defaults.severity",
        "$.integrations['prom'].group",
    ]  # the token's length is checked once the rest is readable


def test_integration_names_must_fit_in_a_url():
    with pytest.raises(tocsin.ConfigError, match=r"\$\.integrations\['prom eu'\]: an integration name is 1 to 64"):
        tocsin.parse_config({"integrations": {"prom eu": {"type": "grafana", "token": TOKEN}}}, plugins().registry)


def test_the_check_command_reports_integration_faults(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump({"integrations": {"prom": {"type": "alertmanagr", "token": TOKEN}}}))
    result = tocsin_cli("check", str(path))
    assert result.returncode == 1
    assert f"{path}: $.integrations['prom']: unknown source type 'alertmanagr'" in result.stderr
    assert "did you mean 'alertmanager'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_json_lists_the_sources_with_their_plugins():
    result = tocsin_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    sources = json.loads(result.stdout)["sources"]
    assert {name: entry["plugin"] for name, entry in sources.items()} == {
        "alertmanager": "tocsin.plugins.source_alertmanager",
        "generic": "tocsin.plugins.source_generic",
        "grafana": "tocsin.plugins.source_grafana",
    }


def test_token_env_reads_the_secret_from_the_environment_when_the_service_starts(monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "from-the-environment-123")
    svc = service({"prom": {"type": "alertmanager", "token_env": "PROM_TOKEN"}})
    assert svc.inbound.authorize("prom", "from-the-environment-123")
    assert not svc.inbound.authorize("prom", "PROM_TOKEN")
    assert not svc.inbound.authorize("prom", None)


@pytest.mark.parametrize(("value", "state"), [(None, "is not set"), ("short", "must be at least 16 characters")])
def test_an_unusable_token_env_stops_the_service_from_starting(monkeypatch, value, state):
    if value is None:
        monkeypatch.delenv("PROM_TOKEN", raising=False)
    else:
        monkeypatch.setenv("PROM_TOKEN", value)
    with pytest.raises(
        tocsin.IntegrationSetupError, match=f"integration 'prom': the environment variable PROM_TOKEN {state}"
    ):
        service({"prom": {"type": "alertmanager", "token_env": "PROM_TOKEN"}})


def test_tokens_are_checked_per_integration():
    svc = service({"a": {"type": "grafana", "token": TOKEN}, "b": {"type": "grafana", "token": TOKEN + "-b"}})
    assert svc.inbound.authorize("a", TOKEN)
    assert not svc.inbound.authorize("b", TOKEN)
    assert not svc.inbound.authorize("a", TOKEN + " ")
    with pytest.raises(tocsin.UnknownIntegrationError):
        svc.inbound.authorize("c", TOKEN)


# --- a third-party source --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UptimeSource:
    """A made-up uptime checker that posts {"monitor": ..., "up": bool, "message": ...}."""

    type: ClassVar[str] = "uptime"
    prefix: str = "Down: "


def compile_uptime(settings: UptimeSource):
    def parse(body: Any) -> list[tocsin.IncidentEvent]:
        document = mapping_at(body, "$")
        monitor = string_at(document, "monitor", "$", required=True)
        if not isinstance(document.get("up"), bool):
            raise tocsin.PayloadError("$.up", "expected true or false")
        return [
            tocsin.IncidentEvent(
                action="resolve" if document["up"] else "create",
                dedup_key=monitor,
                title=settings.prefix + monitor,
                description=document.get("message") or "",
                severity="P2",
                labels=document.get("tags") or {},
            )
        ]

    return parse


def uptime_plugin() -> types.ModuleType:
    module = types.ModuleType("tocsin_uptime")

    @tocsin.hookimpl
    def tocsin_register_sources(register: tocsin.SourceRegistrar) -> None:
        register(UptimeSource, compile=compile_uptime)

    module.tocsin_register_sources = tocsin_register_sources
    return module


def test_a_third_party_source_plugin_is_configured_and_applied_like_a_builtin():
    loaded = tocsin.load_plugins(autoload=False, extra=[uptime_plugin()])
    config = tocsin.parse_config(
        {"integrations": {"up": {"type": "uptime", "token": TOKEN, "prefix": "DOWN "}}}, loaded.registry
    )
    processor = tocsin.IncidentProcessor(tocsin.EscalationEngine(loaded))
    inbound = tocsin.Inbound(config.integrations, loaded.registry, processor)

    created = inbound.receive("up", {"monitor": "api", "up": False, "message": "HTTP 503"}).outcomes[0]
    assert created.result is tocsin.EventResult.CREATED
    incident = processor.get_incident(created.incident_id)
    assert (incident.title, incident.severity, incident.dedup_key) == ("DOWN api", tocsin.Severity.P2, "up/api")
    resolved = inbound.receive("up", {"monitor": "api", "up": True}).outcomes[0]
    assert resolved.result is tocsin.EventResult.RESOLVED
    with pytest.raises(tocsin.PayloadError, match=r"\$\.up: expected true or false"):
        inbound.receive("up", {"monitor": "api", "up": "no"})
    with pytest.raises(tocsin.PayloadError, match=r"\$: labels: labels map non-empty strings to strings"):
        inbound.receive("up", {"monitor": "web", "up": False, "tags": {"region": 1}})
    assert [i.dedup_key for i in processor.incidents.all()] == ["up/api"]


def test_a_source_that_crashes_is_a_source_error_naming_the_integration():
    def crash(settings):
        def parse(body):
            raise KeyError("boom")

        return parse

    module = types.ModuleType("tocsin_crashing")

    @tocsin.hookimpl
    def tocsin_register_sources(register):
        register(UptimeSource, compile=crash)

    module.tocsin_register_sources = tocsin_register_sources
    loaded = tocsin.load_plugins(autoload=False, extra=[module])
    config = tocsin.parse_config({"integrations": {"up": {"type": "uptime", "token": TOKEN}}}, loaded.registry)
    inbound = tocsin.Inbound(
        config.integrations, loaded.registry, tocsin.IncidentProcessor(tocsin.EscalationEngine(loaded))
    )
    with pytest.raises(tocsin.SourceError, match="integration 'up': source 'uptime' failed: KeyError: 'boom'"):
        inbound.receive("up", {})


def test_a_source_class_may_not_use_the_keys_every_integration_has():
    @attrs.frozen(kw_only=True)
    class Greedy:
        type: ClassVar[str] = "greedy"
        token: str = ""
        defaults: dict[str, str] = attrs.field(factory=dict)

    module = types.ModuleType("tocsin_greedy")

    @tocsin.hookimpl
    def tocsin_register_sources(register):
        register(Greedy, compile=lambda settings: lambda body: [])

    module.tocsin_register_sources = tocsin_register_sources
    with pytest.raises(tocsin.PluginError, match=r"source class Greedy may not have field\(s\) defaults, token"):
        tocsin.load_plugins(autoload=False, extra=[module])


def test_a_second_source_of_the_same_name_is_a_conflict_naming_both_plugins():
    module = types.ModuleType("tocsin_other_am")

    @attrs.frozen(kw_only=True)
    class Other:
        type: ClassVar[str] = "alertmanager"

    @tocsin.hookimpl
    def tocsin_register_sources(register):
        register(Other, compile=lambda settings: lambda body: [])

    module.tocsin_register_sources = tocsin_register_sources
    with pytest.raises(
        tocsin.PluginError,
        match=r"source 'alertmanager' is already registered by 'tocsin\.plugins\.source_alertmanager'",
    ):
        tocsin.load_plugins(autoload=False, extra=[module])


def test_processing_goes_through_routing_rules_like_any_incident():
    svc = service(
        {"prom": {"type": "alertmanager", "token": TOKEN}},
        rules=[
            {
                "name": "database alerts belong to the DBAs",
                "conditions": [{"field": "labels.job", "operator": "equals", "value": "postgres"}],
                "actions": [{"type": "assign", "assignees": ["dba@example.com"]}],
            }
        ],
    )
    (outcome,) = svc.receive("prom", alertmanager_body(am_alert("ReplicationLag", job="postgres")))
    assert svc.processor.get_incident(outcome["incident_id"]).assignees == ("dba@example.com",)
