"""The plugin manager: built-ins, entry points, blocking, failures, conflicts, frozen registries."""

from __future__ import annotations

import pytest
from support.kernel_plugins import PersonTarget, basic_plugin, fake_distribution, make_plugin

import tocsin

GOOD_PLUGIN = """
    import attrs
    from typing import ClassVar
    import tocsin

    @attrs.frozen(kw_only=True)
    class Pigeon:
        type: ClassVar[str] = "carrier_pigeon"
        loft: str

    @tocsin.hookimpl
    def tocsin_register_targets(register):
        register(Pigeon, expand=lambda target, ctx: [])
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TOCSIN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("TOCSIN_BLOCKED_PLUGINS", raising=False)
    return tmp_path


def test_entry_point_plugins_load_with_their_distribution(site):
    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": "tocsin_pigeon_ok"}, GOOD_PLUGIN)
    plugins = tocsin.load_plugins(builtins=())
    assert tocsin.PluginInfo(name="pigeon", distribution="tocsin-pigeon", version="0.3") in plugins.info
    assert plugins.registry.targets.entry("carrier_pigeon").plugin == "pigeon"


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_still_load(site):
    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": "tocsin_pigeon_ok2"}, GOOD_PLUGIN)
    fake_distribution(site, "tocsin-broken", "1.0", {"broken": "tocsin_broken_mod"}, "raise RuntimeError('no socks')")
    plugins = tocsin.load_plugins(builtins=())
    assert [(f.name, f.reason) for f in plugins.failures] == [("broken", "RuntimeError: no socks")]
    assert "carrier_pigeon" in plugins.registry.targets


def test_a_missing_builtin_is_reported_by_name(site):
    plugins = tocsin.load_plugins(builtins=("tocsin.plugins.no_such_feature",), autoload=False)
    assert [f.name for f in plugins.failures] == ["tocsin.plugins.no_such_feature"]
    assert "ModuleNotFoundError" in plugins.failures[0].reason


def test_autoload_can_be_disabled_by_environment(site, monkeypatch):
    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": "tocsin_pigeon_ok3"}, GOOD_PLUGIN)
    monkeypatch.setenv("TOCSIN_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = tocsin.load_plugins(builtins=())
    assert "carrier_pigeon" not in plugins.registry.targets
    assert [info.name for info in plugins.info] == []


@pytest.mark.parametrize("blocked", ["pigeon", "tocsin-pigeon", "other, pigeon"])
def test_plugins_can_be_blocked_by_name_or_distribution(site, monkeypatch, blocked):
    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": f"tocsin_pigeon_b{len(blocked)}"}, GOOD_PLUGIN)
    monkeypatch.setenv("TOCSIN_BLOCKED_PLUGINS", blocked)
    plugins = tocsin.load_plugins(builtins=())
    assert "carrier_pigeon" not in plugins.registry.targets


def test_a_builtin_can_be_blocked_by_its_dotted_name():
    every = tocsin.load_plugins(autoload=False)
    if not every.info:
        pytest.skip("no built-ins yet")
    first = every.info[0].name
    plugins = tocsin.load_plugins(autoload=False, blocked=[first])
    assert first not in [info.name for info in plugins.info]


def test_a_name_registered_twice_names_both_plugins():
    def register_person(register):
        register(PersonTarget, expand=lambda target, ctx: [])

    second = make_plugin("acme-people", tocsin_register_targets=register_person)
    with pytest.raises(tocsin.PluginError) as info:
        tocsin.load_plugins(builtins=(), autoload=False, extra=[basic_plugin("first-plugin"), second])
    message = str(info.value)
    assert "'person'" in message and "'first-plugin'" in message and "'acme-people'" in message
    assert "tocsin_register_targets" in message


def test_replace_true_overrides_a_registration_and_records_the_new_owner():
    def register_person(register):
        register(PersonTarget, expand=lambda target, ctx: ["replaced"], replace=True)

    second = make_plugin("acme-people", tocsin_register_targets=register_person)
    registry = tocsin.load_plugins(builtins=(), autoload=False, extra=[basic_plugin(), second]).registry
    entry = registry.targets.entry("person")
    assert entry.plugin == "acme-people"
    assert entry.value.expand(None, None) == ["replaced"]


def test_registries_are_frozen_after_start_up():
    registry = tocsin.load_plugins(builtins=(), autoload=False, extra=[basic_plugin()]).registry
    with pytest.raises(tocsin.PluginError, match="frozen"):
        registry.operators.add("late", object(), plugin="someone")


def test_a_registration_hook_that_raises_names_the_plugin_and_hook():
    def explode(register):
        raise KeyError("boom")

    bad = make_plugin("exploding", tocsin_register_channels=explode)
    with pytest.raises(tocsin.PluginError, match=r"'exploding'.*tocsin_register_channels.*KeyError"):
        tocsin.load_plugins(builtins=(), autoload=False, extra=[bad])


def test_a_variant_class_needs_an_attrs_class_with_a_type_tag():
    class NotAttrs:
        type = "plain"

    def register_plain(register):
        register(NotAttrs, expand=lambda target, ctx: [])

    bad = make_plugin("untagged", tocsin_register_targets=register_plain)
    with pytest.raises(tocsin.PluginError, match=r"'untagged'.*attrs class"):
        tocsin.load_plugins(builtins=(), autoload=False, extra=[bad])


def test_a_misspelled_hook_is_refused():
    bad = make_plugin("typo", tocsin_register_target=lambda register: None)
    with pytest.raises(tocsin.PluginError, match="tocsin_register_target"):
        tocsin.load_plugins(builtins=(), autoload=False, extra=[bad])


def test_each_call_builds_an_independent_plugin_set():
    first = tocsin.load_plugins(builtins=(), autoload=False, extra=[basic_plugin()])
    second = tocsin.load_plugins(builtins=(), autoload=False)
    assert "person" in first.registry.targets
    assert "person" not in second.registry.targets
    assert first.manager is not second.manager


def test_an_installed_plugin_passed_again_as_extra_is_refused_naming_both_sources(site):
    import importlib

    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": "tocsin_pigeon_twice"}, GOOD_PLUGIN)
    module = importlib.import_module("tocsin_pigeon_twice")
    with pytest.raises(tocsin.PluginError) as info:
        tocsin.load_plugins(builtins=(), extra=[module])
    assert str(info.value) == (
        "plugin 'tocsin_pigeon_twice' (load_plugins(extra=...)) is already registered as 'pigeon' (the entry point "
        "of tocsin-pigeon 0.3): pass load_plugins(autoload=False) to register an installed plugin yourself, or "
        "leave it out of extra"
    )
    plugins = tocsin.load_plugins(builtins=(), extra=[module], autoload=False)  # as the message says
    assert plugins.registry.targets.entry("carrier_pigeon").plugin == "tocsin_pigeon_twice"


def test_two_distributions_with_one_entry_point_name_report_the_second_as_a_failure(site):
    fake_distribution(site, "tocsin-pigeon", "0.3", {"pigeon": "tocsin_pigeon_one"}, GOOD_PLUGIN)
    fake_distribution(site, "tocsin-pigeon-fork", "0.4", {"pigeon": "tocsin_pigeon_two"}, GOOD_PLUGIN)
    plugins = tocsin.load_plugins(builtins=())
    assert [info.name for info in plugins.info] == ["pigeon"]
    (failure,) = plugins.failures
    assert failure.name == "pigeon" and "the name is already taken by the entry point of" in failure.reason


def test_an_observer_hook_wrapper_is_refused_because_observers_are_called_one_by_one():
    def tocsin_escalation_started(state):
        yield

    wrapper = make_plugin("wrapping")
    wrapper.tocsin_escalation_started = tocsin.hookimpl(wrapper=True)(tocsin_escalation_started)
    with pytest.raises(tocsin.PluginError) as info:
        tocsin.load_plugins(builtins=(), autoload=False, extra=[wrapper])
    assert str(info.value) == (
        "plugin 'wrapping': tocsin_escalation_started is a hook wrapper; observer hooks are called one by one, "
        "so implement it as a plain hook"
    )
