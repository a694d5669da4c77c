"""Plugins that were found but not registered, and saying which of them provides a name that is missing.

A plugin blocked by ``TOCSIN_BLOCKED_PLUGINS`` (or ``load_plugins(blocked=...)``), or an installed one not
loaded because autoload is off, is kept as a :class:`LeftOut`. When a config names something no loaded plugin
provides, :class:`Explainer` says which left-out plugin would have: "unknown channel type 'slack'; known: …:
provided by plugin 'acme', blocked by TOCSIN_BLOCKED_PLUGINS". To know that, it imports the left-out plugins and
runs their registration hooks into a scratch registry, the first time a name is missing and never before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from tocsin.registry import Registry

__all__ = ["Explainer", "LeftOut"]


@attrs.frozen(kw_only=True)
class LeftOut:
    """A plugin that was found but not registered: ``blocked`` (by ``TOCSIN_BLOCKED_PLUGINS`` or
    ``load_plugins(blocked=...)``) or not autoloaded (``TOCSIN_DISABLE_PLUGIN_AUTOLOAD``, ``autoload=False``);
    ``reason`` says which, as messages print it."""

    name: str
    reason: str
    blocked: bool
    distribution: str | None = None
    version: str | None = None
    load: Callable[[], Any] | None = attrs.field(default=None, eq=False, repr=False)  # imports the plugin object


class Explainer:
    """``explainer(kind, name)``: which left-out plugin provides ``name`` of ``kind``, or None.

    :param register: builds a scratch registry from one plugin object named as given.
    """

    def __init__(self, left_out: Sequence[LeftOut], register: Callable[[object, str], Registry]) -> None:
        self._left_out = left_out
        self._register = register
        self._provided: dict[tuple[str, str], LeftOut] | None = None

    def __call__(self, kind: str, name: str) -> str | None:
        if not self._left_out:
            return None
        if self._provided is None:
            self._provided = self._scan()
        plugin = self._provided.get((kind, name))
        return None if plugin is None else f"provided by plugin {plugin.name!r}, {plugin.reason}"

    def _scan(self) -> dict[tuple[str, str], LeftOut]:
        provided: dict[tuple[str, str], LeftOut] = {}
        for plugin in self._left_out:
            if plugin.load is None:
                continue
            try:
                registry = self._register(plugin.load(), plugin.name)
            except Exception:  # a plugin left out because it is broken says nothing
                continue
            for table in registry.tables().values():
                for entry in table:
                    provided.setdefault((table.kind, entry.name), plugin)
        return provided
