"""Build a plugin manager and the registries from the built-ins and the ``tocsin`` entry points.

There is no module-global manager: each call to :func:`load_plugins` builds a fresh, independent set.
Two environment variables work like pytest's switches:

``TOCSIN_DISABLE_PLUGIN_AUTOLOAD``
    when set (to anything but ``0``/``false``/empty), entry-point plugins are not loaded.
``TOCSIN_BLOCKED_PLUGINS``
    a comma-separated list of plugin names (entry-point names, distribution names or the built-ins'
    dotted names) that are never registered.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

import tocsin.hookspecs as hookspecs
from tocsin.builtins import BUILTIN_PLUGINS
from tocsin.errors import PluginError
from tocsin.registry import EXTENSION_POINTS, Registry

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginLoadFailure", "Plugins", "load_plugins"]

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
    """The loaded plugin set: the pluggy manager (for observer hooks), the frozen registry, and reports."""

    manager: pluggy.PluginManager
    registry: Registry
    info: list[PluginInfo]
    failures: list[PluginLoadFailure]

    @property
    def hook(self) -> Any:
        """The manager's hook relay, for calling observer hooks."""
        return self.manager.hook


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _blocked_from_env() -> set[str]:
    raw = os.environ.get("TOCSIN_BLOCKED_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins(
    *,
    builtins: Sequence[str] = BUILTIN_PLUGINS,
    extra: Iterable[object] = (),
    autoload: bool | None = None,
    blocked: Iterable[str] | None = None,
) -> Plugins:
    """Register the built-ins, the ``tocsin`` entry points and ``extra`` plugin objects, then build the
    frozen registry by calling each registration hook once per plugin.

    :param builtins: dotted module names of the built-in plugins.
    :param extra: plugin objects (modules, instances) an embedding application registers itself.
    :param autoload: load entry-point plugins; default: unless ``TOCSIN_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param blocked: plugin names never to register; default: ``TOCSIN_BLOCKED_PLUGINS``.
    :raises PluginError: a registration conflict or a registration hook that raised.
    """
    if autoload is None:
        autoload = not _env_flag("TOCSIN_DISABLE_PLUGIN_AUTOLOAD")
    blocked_names = set(blocked) if blocked is not None else _blocked_from_env()

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in blocked_names:
        manager.set_blocked(name)
    info: list[PluginInfo] = []
    failures: list[PluginLoadFailure] = []

    for dotted in builtins:
        if dotted in blocked_names:
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

    if autoload:
        _load_entry_points(manager, blocked_names, info, failures)

    for index, plugin in enumerate(extra):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        if name in blocked_names:
            continue
        manager.register(plugin, name=name)
        info.append(PluginInfo(name=name))

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from None

    by_name = {entry.name: entry for entry in info}
    registry = Registry()
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
    return Plugins(manager=manager, registry=registry, info=info, failures=failures)


def _load_entry_points(
    manager: pluggy.PluginManager,
    blocked: set[str],
    info: list[PluginInfo],
    failures: list[PluginLoadFailure],
) -> None:
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        if entry_point.name in blocked or (dist_name and dist_name in blocked):
            continue
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:
            failures.append(PluginLoadFailure(name=entry_point.name, reason=f"{type(exc).__name__}: {exc}"))
            continue
        info.append(PluginInfo(name=entry_point.name, distribution=dist_name, version=dist.version if dist else None))
