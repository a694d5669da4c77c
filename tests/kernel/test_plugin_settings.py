"""A plugin's settings: the config's ``plugins.<name>`` section, read into the class the plugin registered, checked
like any other section, and handed to every callable and observer of that plugin that asks for it."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest

import tocsin
from tocsin.integrations import IncidentEvent
from tocsin.rotation import PeriodicRotation
from tocsin.validators import positive
from tocsin.wallclock import DAY, HOUR

SEEN: list[tuple[str, Any]] = []  # (what, the settings it got), as the probe's callables saw them


@attrs.frozen(kw_only=True)
class ProbeSettings:
    region: str = "eu"
    handoff_hour: int = 9
    limit: int = attrs.field(default=5, validator=positive)


@attrs.frozen(kw_only=True)
class ProbeTarget:
    type: ClassVar[str] = "probe"
    name: str


@attrs.frozen(kw_only=True)
class ProbeRotation:
    type: ClassVar[str] = "probe_daily"


@attrs.frozen(kw_only=True)
class ProbeSource:
    type: ClassVar[str] = "probe"


@attrs.frozen(kw_only=True)
class ProbeContact:
    type: ClassVar[str] = "probe"


class ProbeSender:
    def __init__(self, region: str) -> None:
        self.region = region

    async def deliver(self, notification: tocsin.Notification) -> tocsin.DeliveryResult:
        return tocsin.DeliveryResult(key=notification.key, ok=True, detail=f"via {self.region}")


def check_settings(settings: ProbeSettings, config: tocsin.Config) -> Iterator[str]:
    if settings.region not in config.teams:
        yield f"no team for region {settings.region!r}"


def expand(target: ProbeTarget, ctx: tocsin.ExpandContext, *, plugin_settings: ProbeSettings) -> list:
    SEEN.append(("expand", plugin_settings))
    return [tocsin.Recipient(address=f"{target.name}@{plugin_settings.region}", channel="log", target="probe")]


def check_target(target: ProbeTarget, config: tocsin.Config, *, plugin_settings: ProbeSettings) -> Iterator[str]:
    if len(target.name) > plugin_settings.limit:
        yield f"name {target.name!r} is longer than {plugin_settings.limit} characters"


def compile_rotation(settings: ProbeRotation, *, plugin_settings: ProbeSettings) -> PeriodicRotation:
    SEEN.append(("rotation", plugin_settings))
    return PeriodicRotation(DAY, plugin_settings.handoff_hour * HOUR)


def compile_operator(expected: Any, *, plugin_settings: ProbeSettings):
    SEEN.append(("operator", plugin_settings))
    return lambda actual: actual == plugin_settings.region


def compile_source(settings: ProbeSource, *, plugin_settings: ProbeSettings):
    SEEN.append(("source", plugin_settings))
    return lambda body: [IncidentEvent(action="create", dedup_key="k", title=f"{plugin_settings.region}: {body}")]


def create_sender(settings: None, *, plugin_settings: ProbeSettings) -> ProbeSender:
    return ProbeSender(plugin_settings.region)


def started(state: tocsin.EscalationState, plugin_settings: ProbeSettings) -> None:
    SEEN.append(("observer", plugin_settings))


probe = types.ModuleType("probe")
for hook, function in {
    "tocsin_register_settings": lambda register: register(ProbeSettings, check=check_settings),
    "tocsin_register_targets": lambda register: register(ProbeTarget, expand=expand, check=check_target),
    "tocsin_register_rotations": lambda register: register(ProbeRotation, compile=compile_rotation),
    "tocsin_register_operators": lambda register: register("in_region", compile_operator),
    "tocsin_register_sources": lambda register: register(ProbeSource, compile=compile_source),
    "tocsin_register_channels": lambda register: register(ProbeContact, create=create_sender),
    "tocsin_escalation_started": started,
}.items():
    setattr(probe, hook, tocsin.hookimpl(function))
sys.modules.setdefault("probe", probe)

CONFIG = """
teams: {us: [ana@example.com]}
plugins:
  probe: {region: us, handoff_hour: 7}
schedules:
  - id: s
    layers: [{name: L, users: [ana@example.com, ben@example.com], rotation: {type: probe_daily}}]
policies:
  - id: p
    levels: [{targets: [{type: probe, name: db}]}]
rules:
  - name: regional
    conditions: [{field: title, operator: in_region, value: anything}]
    actions: [{type: use_policy, policy_id: p}]
integrations:
  feed: {type: probe, token: a-long-enough-token-0123}
"""


@pytest.fixture(autouse=True)
def _forget():
    SEEN.clear()


pytestmark = pytest.mark.tocsin_plugins(probe, autoload=False)


def test_the_section_is_read_into_the_plugins_settings_class(tocsin_config):
    config = tocsin_config.yaml(CONFIG).build()
    assert config.plugins["probe"] == ProbeSettings(region="us", handoff_hour=7)


def test_every_callable_and_observer_of_the_plugin_gets_its_settings(tocsin_config, tocsin_pager, tocsin_plugins):
    config = tocsin_config.yaml(CONFIG).build()
    assert {what for what, _ in SEEN} == {"rotation", "operator", "source"}  # run by the config's checks
    SEEN.clear()
    pager = tocsin_pager(config)
    pager.process(title="us")  # routed by the operator, which compares with the settings' region
    assert pager.sender.take() == [(0, 0, "db@us", "log")]
    plugins = tocsin_plugins.configured(config.plugins)
    schedule = tocsin.compile_schedule(config.schedules[0], plugins.registry)
    inbound = tocsin.Inbound(config.integrations, plugins.registry, pager.processor)
    (outcome,) = inbound.receive("feed", "disk full").outcomes
    sender = tocsin.ChannelSet(plugins.registry).sender("probe")
    delivered = asyncio.run(sender.deliver(tocsin.testing.make_notification(channel="probe")))
    assert pager.processor.get_incident(outcome.incident_id).title == "us: disk full"
    assert delivered.detail == "via us"
    assert schedule.next_handoff(tocsin.testing.fixtures.START).hour == 7  # the rotation's handoff hour
    wanted = ProbeSettings(region="us", handoff_hour=7)
    assert {what for what, got in SEEN if got == wanted} == {"operator", "expand", "observer", "rotation", "source"}
    assert [got for _, got in SEEN if got != wanted] == []


def test_without_a_section_the_plugin_gets_its_defaults(tocsin_config):
    config = tocsin_config.yaml(CONFIG.replace("  probe: {region: us, handoff_hour: 7}", "  {}")).team("eu", []).build()
    assert config.plugins["probe"] == ProbeSettings()


def test_faults_in_the_settings_are_reported_at_their_path_beside_the_others(tocsin_config):
    tocsin_config.yaml(CONFIG).plugin("probe", region="us", limit=0, colour="red")
    targets = [{"type": "probe", "name": "much-too-long"}, {"type": "schedule", "schedule_id": "nope"}]
    tocsin_config.policy(id="q", levels=[{"targets": targets}])
    # what the plugin's own checks would say rests on settings with faults: it is not asked
    assert tocsin_config.faults() == [
        "$.plugins.probe.limit: must be greater than 0, got 0",
        "$.plugins.probe: unknown field(s): colour",
        "$.policies[1].levels[0].targets[1]: unknown schedule 'nope'; known: s",
    ]


def test_with_usable_settings_the_plugins_checks_use_them(tocsin_config):
    tocsin_config.yaml(CONFIG).plugin("probe", region="us", limit=3)
    tocsin_config.policy(id="q", levels=[{"targets": [{"type": "probe", "name": "much-too-long"}]}])
    assert tocsin_config.faults() == [
        "$.policies[1].levels[0].targets[0]: name 'much-too-long' is longer than 3 characters"
    ]


def test_the_settings_check_sees_the_whole_config(tocsin_config):
    tocsin_config.yaml(CONFIG).plugin("probe", region="apac")
    assert tocsin_config.faults() == ["$.plugins.probe: no team for region 'apac'"]


def test_a_section_for_a_plugin_that_takes_none_or_is_unknown_is_a_fault(tocsin_config):
    tocsin_config.yaml(CONFIG).plugin("tocsin.plugins.audit", verbose=True).plugin("prob", region="us")
    assert tocsin_config.faults() == [
        "$.plugins['tocsin.plugins.audit']: plugin 'tocsin.plugins.audit' takes no settings; "
        "plugins that take settings: probe",
        "$.plugins.prob: unknown plugin 'prob'; plugins that take settings: probe",
    ]


@pytest.mark.tocsin_plugins(probe, autoload=False, blocked=["probe"])
def test_the_section_of_a_blocked_plugin_is_not_read(tocsin_config):
    assert tocsin_config.plugin("probe", region="us").faults() == []


@attrs.frozen(kw_only=True)
class KeyedSettings:
    api_key: str


def compile_keyed(expected: Any, *, plugin_settings: KeyedSettings):
    return lambda actual: plugin_settings.api_key in actual


keyed = types.ModuleType("keyed")
keyed.tocsin_register_settings = tocsin.hookimpl(lambda register: register(KeyedSettings))
keyed.tocsin_register_operators = tocsin.hookimpl(lambda register: register("has_key", compile_keyed))
sys.modules.setdefault("keyed", keyed)


@pytest.mark.tocsin_plugins(keyed, autoload=False)
def test_a_required_setting_is_a_fault_of_a_config_without_the_section(tocsin_config):
    conditions = [{"field": "title", "operator": "has_key", "value": 1}]
    tocsin_config.rule(name="r", conditions=conditions, actions=[{"type": "add_labels", "labels": {"k": "v"}}])
    assert tocsin_config.faults() == ["$.plugins.keyed.api_key: required field missing"]
    assert tocsin_config.plugin("keyed", api_key="k").build().plugins["keyed"] == KeyedSettings(api_key="k")


def test_asking_for_settings_without_registering_a_class_is_refused_at_load():
    def takes(target: Any, ctx: Any, *, plugin_settings: Any) -> list:
        return []

    needy = types.ModuleType("needy")
    needy.tocsin_register_targets = tocsin.hookimpl(lambda register: register(ProbeTarget, expand=takes))
    with pytest.raises(tocsin.PluginError) as info:
        tocsin.load_plugins(builtins=(), autoload=False, extra=[needy])
    assert str(info.value) == (
        "plugin 'needy': expand of target 'probe' takes plugin_settings, but the plugin registers no settings "
        "class (tocsin_register_settings)"
    )


def test_an_observer_asking_for_settings_without_a_class_is_refused_at_load():
    needy = types.ModuleType("needy_observer")
    needy.tocsin_escalation_started = tocsin.hookimpl(lambda state, plugin_settings: None)
    with pytest.raises(tocsin.PluginError, match="tocsin_escalation_started takes plugin_settings"):
        tocsin.load_plugins(builtins=(), autoload=False, extra=[needy])


def test_a_check_that_raises_is_a_fault_naming_the_plugin(tocsin_config):
    def broken(target: Any, config: Any) -> Iterator[str]:
        raise KeyError("boom")

    buggy = types.ModuleType("buggy")
    buggy.tocsin_register_targets = tocsin.hookimpl(
        lambda register: register(ProbeTarget, expand=lambda target, ctx: [], check=broken)
    )
    plugins = tocsin.load_plugins(autoload=False, extra=[buggy])
    document = {"policies": [{"id": "p", "levels": [{"targets": [{"type": "probe", "name": "x"}]}]}]}
    with pytest.raises(tocsin.ConfigError) as info:
        tocsin.parse_config(document, plugins.registry, source="t.yaml")
    assert str(info.value) == (
        "t.yaml: $.policies[0].levels[0].targets[0]: plugin 'buggy': the check of target 'probe' raised "
        "KeyError: 'boom'"
    )


def test_the_section_round_trips_through_dump_config(tocsin_config, tocsin_plugins):
    config = tocsin_config.yaml(CONFIG).build()
    document = tocsin.dump_config(config, tocsin_plugins.registry)
    assert document["plugins"] == {"probe": {"region": "us", "handoff_hour": 7}}
    assert tocsin.parse_config(document, tocsin_plugins.registry) == config
