"""Build a plugin manager and the registries from the built-ins and the ``tocsin`` entry points.

There is no module-global manager: each call to :func:`load_plugins` builds a fresh, independent set.
Two environment variables work like pytest's switches:

``TOCSIN_DISABLE_PLUGIN_AUTOLOAD``
    when set (to anything but ``0``/``false``/empty), entry-point plugins are not loaded.
``TOCSIN_BLOCKED_PLUGINS``
    a comma-separated list of plugin names (entry-point names, distribution names or the built-ins'
    dotted names) that are never registered.

A plugin left out that way is still named where what it provides is missing (see :mod:`tocsin.left_out`).
Registering one plugin object twice (an installed plugin also passed as ``extra``) is a :class:`PluginError`
naming both sources.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

import tocsin.hookspecs as hookspecs
from tocsin.builtins import BUILTIN_PLUGINS
from tocsin.errors import PluginError
from tocsin.left_out import Explainer, LeftOut
from tocsin.observers import OBSERVER_HOOKS
from tocsin.registry import EXTENSION_POINTS, PLUGIN_SETTINGS, Registry

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginLoadFailure", "Plugins", "default_settings", "load_plugins"]

ENTRY_POINT_GROUP = "tocsin"
_REGISTRATION_HOOKS = {point.hook: point.registrar for point in EXTENSION_POINTS}


@attrs.frozen(kw_only=True)
class PluginInfo:
    """A registered plugin: its name and, for installed packages, the distribution and version."""

    name: str
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """``'name' (dist 1.2)`` — how errors name a plugin."""
        if self.distribution:
            return f"{self.name!r} ({self.distribution} {self.version})"
        return repr(self.name)


@attrs.frozen(kw_only=True)
class PluginLoadFailure:
    """A plugin that could not be imported or registered; the others still loaded."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} failed to load: {self.reason}"


@attrs.define(kw_only=True)
class Plugins:
    """The loaded plugin set: the pluggy manager (for observer hooks), the frozen registry, and reports.

    ``settings`` holds each plugin's settings object (plugin name -> object): the defaults of its settings
    class until :meth:`configured` hands it a config's ``plugins`` section.
    """

    manager: pluggy.PluginManager
    registry: Registry
    info: list[PluginInfo]
    failures: list[PluginLoadFailure]
    left_out: list[LeftOut] = attrs.field(factory=list)
    settings: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def hook(self) -> Any:
        """The manager's hook relay, for calling observer hooks."""
        return self.manager.hook

    def configured(self, settings: Mapping[str, Any]) -> Plugins:
        """This plugin set with ``settings`` (a config's ``plugins`` section: plugin name -> settings object)
        handed to each plugin's callables and observers; ``self`` when they are the ones it already has."""
        if dict(settings) == dict(self.settings):
            return self
        merged = {**self.settings, **settings}
        return attrs.evolve(self, registry=self.registry.bind(merged), settings=merged)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _blocked_from_env() -> set[str]:
    raw = os.environ.get("TOCSIN_BLOCKED_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins(
    *,
    builtins: Sequence[str] = BUILTIN_PLUGINS,
    extra: Iterable[object] | Mapping[str, object] = (),
    autoload: bool | None = None,
    blocked: Iterable[str] | None = None,
) -> Plugins:
    """Register the built-ins, the ``tocsin`` entry points and ``extra`` plugin objects, then build the
    frozen registry by calling each registration hook once per plugin.

    :param builtins: dotted module names of the built-in plugins.
    :param extra: plugin objects (modules, instances) an embedding application registers itself, each named by
        its ``__name__``; or a mapping of name -> plugin object, to give them the names their configs use (an
        installed plugin's entry-point name: ``{"acme": tocsin_acme}``).
    :param autoload: load entry-point plugins; default: unless ``TOCSIN_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param blocked: plugin names never to register; default: ``TOCSIN_BLOCKED_PLUGINS``.
    :raises PluginError: a registration conflict, a registration hook that raised, a plugin registered twice.
    """
    autoload_source = "autoload=False"
    if autoload is None:
        autoload = not _env_flag("TOCSIN_DISABLE_PLUGIN_AUTOLOAD")
        autoload_source = "TOCSIN_DISABLE_PLUGIN_AUTOLOAD"
    blocked_source = "TOCSIN_BLOCKED_PLUGINS" if blocked is None else "load_plugins(blocked=...)"
    blocked_names = set(blocked) if blocked is not None else _blocked_from_env()

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in blocked_names:
        manager.set_blocked(name)
    info: list[PluginInfo] = []
    failures: list[PluginLoadFailure] = []
    left_out: list[LeftOut] = []
    sources: dict[str, str] = {}  # plugin name -> where it came from, for "registered twice"

    for dotted in builtins:
        if dotted in blocked_names:
            left_out.append(
                LeftOut(
                    name=dotted,
                    reason=f"blocked by {blocked_source}",
                    blocked=True,
                    load=functools.partial(importlib.import_module, dotted),
                )
            )
            continue
        try:
            module = importlib.import_module(dotted)
        except Exception as exc:  # a broken built-in must not hide the others
            failures.append(PluginLoadFailure(name=dotted, reason=f"{type(exc).__name__}: {exc}"))
            continue
        if manager.is_registered(module):
            raise PluginError(f"built-in plugin {dotted!r} is listed twice")
        manager.register(module, name=dotted)
        info.append(PluginInfo(name=dotted))
        sources[dotted] = "a built-in"

    _load_entry_points(
        manager, blocked_names, blocked_source, autoload, autoload_source, info, failures, left_out, sources
    )

    named = extra.items() if isinstance(extra, Mapping) else ((None, plugin) for plugin in extra)
    for index, (given, plugin) in enumerate(named):
        name = given or getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        if name in blocked_names:
            left_out.append(
                LeftOut(
                    name=name,
                    reason=f"blocked by {blocked_source}",
                    blocked=True,
                    load=functools.partial(_same, plugin),
                )
            )
            continue
        _refuse_twice(manager, plugin, name, sources)
        manager.register(plugin, name=name)
        info.append(PluginInfo(name=name))
        sources[name] = "load_plugins(extra=...)"

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from None
    _refuse_observer_wrappers(manager)

    by_name = {entry.name: entry for entry in info}
    registry = _register_all(manager, by_name, {plugin.name: plugin.reason for plugin in left_out})
    _check_settings_takers(manager, registry, by_name)
    explain = Explainer(left_out, _scratch_registry)
    for table in registry.tables().values():
        table.explain_missing = explain
    defaults = default_settings(registry)
    return Plugins(
        manager=manager,
        registry=registry.bind(defaults),
        info=info,
        failures=failures,
        left_out=left_out,
        settings=defaults,
    )


def default_settings(registry: Registry) -> dict[str, Any]:
    """Each plugin's settings class built from its defaults (None for one with a required field)."""
    settings: dict[str, Any] = {}
    for entry in registry.settings:
        try:
            settings[entry.name] = entry.value.cls()
        except Exception:  # a required field: only a config can give it
            settings[entry.name] = None
    return settings


def _register_all(
    manager: pluggy.PluginManager, by_name: Mapping[str, PluginInfo], left_out: Mapping[str, str] | None = None
) -> Registry:
    registry = Registry(by_name, left_out)
    for hook_name, registrar_type in _REGISTRATION_HOOKS.items():
        caller = getattr(manager.hook, hook_name)
        # Registration order: built-ins first, then entry points, then extras, so a conflict names the
        # plugin that came second as the offender.
        for impl in caller.get_hookimpls():
            plugin = by_name.get(impl.plugin_name)
            label = plugin.describe() if plugin else repr(impl.plugin_name)
            registrar = registrar_type(registry, plugin.name if plugin else impl.plugin_name)
            try:
                impl.function(register=registrar)
            except PluginError as exc:
                raise PluginError(f"{exc} [in {hook_name} of plugin {label}]") from None
            except Exception as exc:
                raise PluginError(f"plugin {label}: {hook_name} raised {type(exc).__name__}: {exc}") from exc
    registry.freeze()
    return registry


def _same(plugin: object) -> object:
    return plugin


def _scratch_registry(plugin: object, name: str) -> Registry:
    """What ``plugin`` alone registers (for saying which left-out plugin provides a missing name)."""
    scratch = pluggy.PluginManager(hookspecs.PROJECT)
    scratch.add_hookspecs(hookspecs)
    scratch.register(plugin, name=name)
    return _register_all(scratch, {})


def _check_settings_takers(
    manager: pluggy.PluginManager, registry: Registry, by_name: Mapping[str, PluginInfo]
) -> None:
    """A callable or observer that asks for ``plugin_settings`` of a plugin that registers no settings class is a
    mistake the plugin's author should hear about at start-up, not a None at 3 a.m."""
    for hook_name in OBSERVER_HOOKS:
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            if PLUGIN_SETTINGS in impl.argnames and impl.plugin_name not in registry.settings:
                plugin = by_name.get(impl.plugin_name)
                label = plugin.describe() if plugin else repr(impl.plugin_name)
                raise PluginError(
                    f"plugin {label}: {hook_name} takes {PLUGIN_SETTINGS}, but the plugin registers no settings "
                    "class (tocsin_register_settings)"
                )
    for table in registry.tables().values():
        for entry in table:
            if entry.wants_settings and entry.plugin not in registry.settings:
                plugin = by_name.get(entry.plugin)
                label = plugin.describe() if plugin else repr(entry.plugin)
                raise PluginError(
                    f"plugin {label}: {entry.wants_settings[0]} of {table.kind} {entry.name!r} takes "
                    f"{PLUGIN_SETTINGS}, but the plugin registers no settings class (tocsin_register_settings)"
                )


def _refuse_observer_wrappers(manager: pluggy.PluginManager) -> None:
    # Observers are called one by one, each with its own plugin's settings; a wrapper could not be.
    for hook_name in OBSERVER_HOOKS:
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: {hook_name} is a hook wrapper; observer hooks are called one "
                    "by one, so implement it as a plain hook"
                )


def _refuse_twice(manager: pluggy.PluginManager, plugin: object, name: str, sources: Mapping[str, str]) -> None:
    held_as = manager.get_name(plugin)
    if held_as is not None:
        raise PluginError(
            f"plugin {name!r} (load_plugins(extra=...)) is already registered as {held_as!r} "
            f"({sources.get(held_as, 'registered earlier')}): pass load_plugins(autoload=False) to register "
            "an installed plugin yourself, or leave it out of extra"
        )
    if manager.has_plugin(name):
        raise PluginError(
            f"plugin name {name!r} (load_plugins(extra=...)) is already taken by "
            f"{sources.get(name, 'another plugin')}: give the object a different __name__, or pass "
            "load_plugins(autoload=False)"
        )


def _load_entry_points(
    manager: pluggy.PluginManager,
    blocked: set[str],
    blocked_source: str,
    autoload: bool,
    autoload_source: str,
    info: list[PluginInfo],
    failures: list[PluginLoadFailure],
    left_out: list[LeftOut],
    sources: dict[str, str],
) -> None:
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        origin = f"the entry point of {dist_name} {version}" if dist_name else "an entry point"
        is_blocked = entry_point.name in blocked or bool(dist_name and dist_name in blocked)
        if is_blocked or not autoload:
            reason = f"blocked by {blocked_source}" if is_blocked else f"not loaded: {autoload_source}"
            left_out.append(
                LeftOut(
                    name=entry_point.name,
                    reason=reason,
                    blocked=is_blocked,
                    distribution=dist_name,
                    version=version,
                    load=entry_point.load,
                )
            )
            continue
        if manager.has_plugin(entry_point.name):
            failures.append(
                PluginLoadFailure(
                    name=entry_point.name,
                    reason=f"{origin}: the name is already taken by {sources.get(entry_point.name, 'another plugin')}",
                )
            )
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            failures.append(PluginLoadFailure(name=entry_point.name, reason=f"{type(exc).__name__}: {exc}"))
            continue
        held_as = manager.get_name(plugin)
        if held_as is not None:
            failures.append(
                PluginLoadFailure(
                    name=entry_point.name,
                    reason=f"{origin}: its module is already registered as {held_as!r} "
                    f"({sources.get(held_as, 'registered earlier')})",
                )
            )
            continue
        manager.register(plugin, name=entry_point.name)
        info.append(PluginInfo(name=entry_point.name, distribution=dist_name, version=version))
        sources[entry_point.name] = origin
