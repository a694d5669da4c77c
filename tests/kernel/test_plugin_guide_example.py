"""The plugin guide's complete custom target works exactly as printed."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime

import pytest
import yaml
from support.docs import ROOT, code_blocks

import tocsin

GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
SECTION = GUIDE[GUIDE.index("## A complete custom target") :]
MONDAY_10 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin: ana's week (2026-01-05 + 8 weeks)


@pytest.fixture(scope="module")
def plugin():
    (code,) = code_blocks(SECTION, "python")
    module = types.ModuleType("tocsin_managers")
    sys.modules[module.__name__] = module  # as an installed plugin would be
    exec(compile(code, "docs/plugins.md", "exec", dont_inherit=True), module.__dict__)
    yield module
    del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def plugins(plugin):
    return tocsin.load_plugins(autoload=False, extra=[plugin])


@pytest.fixture
def document():
    return yaml.safe_load(code_blocks(SECTION, "yaml")[0])


def pages(engine, incident_id):
    state = engine.get_escalation_state(incident_id)
    return [(d.notification.level, d.notification.recipient.address) for d in state.deliveries]


def test_the_manager_of_whoever_is_on_call_is_paged(plugins, document):
    config = tocsin.parse_config(document, plugins.registry)
    clock = tocsin.ManualClock(MONDAY_10)
    engine = tocsin.EscalationEngine.from_config(config, plugins, clock=clock)
    incident = tocsin.Incident(id="inc-1", title="disk full", severity="P1", created_at=MONDAY_10)
    engine.start_escalation(incident, "wake-the-lead")
    clock.advance(minutes=10)
    engine.tick()
    assert pages(engine, "inc-1") == [(0, "ana@example.com"), (1, "carla@example.com")]


def test_someone_without_a_manager_is_a_recorded_failure_not_a_crash(plugins, document):
    document["policies"][0]["levels"][1]["targets"][0]["managers"] = {"ben@example.com": "carla@example.com"}
    config = tocsin.parse_config(document, plugins.registry)
    clock = tocsin.ManualClock(MONDAY_10)
    engine = tocsin.EscalationEngine.from_config(config, plugins, clock=clock)
    engine.start_escalation(
        tocsin.Incident(id="inc-2", title="t", severity="P1", created_at=MONDAY_10), "wake-the-lead"
    )
    clock.advance(minutes=10)
    engine.tick()
    state = engine.get_escalation_state("inc-2")
    assert pages(engine, "inc-2") == [(0, "ana@example.com")]
    assert any("no manager on file for 'ana@example.com'" in str(event) for event in state.events)


def test_a_misspelled_schedule_is_reported_with_its_path(plugins, document):
    document["policies"][0]["levels"][1]["targets"][0]["schedule_id"] = "primray"
    with pytest.raises(tocsin.ConfigError) as info:
        tocsin.parse_config(document, plugins.registry, source="tocsin.yaml")
    assert [str(issue) for issue in info.value.issues] == [
        "tocsin.yaml: $.policies[0].levels[1].targets[0]: unknown schedule 'primray'; known: primary"
    ]


def test_the_registration_is_listed_under_the_plugin(plugins):
    assert plugins.registry.targets.entry("manager").plugin == "tocsin_managers"
