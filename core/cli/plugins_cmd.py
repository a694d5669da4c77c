"""``tocsin plugins``: what each loaded plugin registered, which observer hooks it implements, and the plugins
that were found but left out (blocked, or not autoloaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tocsin.cli._app import app, echo, emit_json, load_plugin_set, user_errors
from tocsin.cli._tables import Table, show

if TYPE_CHECKING:
    from tocsin.manager import Plugins


def describe_plugins(plugins: Plugins) -> dict[str, Any]:
    """The ``tocsin plugins --json`` document: each registered name with its plugin (one key per extension
    point, ``settings`` by plugin name), ``observers`` (hook -> the plugins implementing it, in call order), the
    plugin list, the failures, and the plugins left out: ``blocked`` and ``not_autoloaded``."""
    from tocsin.observers import OBSERVER_HOOKS

    document: dict[str, Any] = {}
    for key, table in plugins.registry.tables().items():  # in EXTENSION_POINTS order
        document[key] = {entry.name: {"plugin": entry.plugin} for entry in sorted(table, key=lambda e: e.name)}
    document["observers"] = {
        hook: [impl.plugin_name for impl in reversed(getattr(plugins.hook, hook).get_hookimpls())]
        for hook in OBSERVER_HOOKS
    }
    document["plugins"] = [
        {"name": info.name, "distribution": info.distribution, "version": info.version} for info in plugins.info
    ]
    document["failures"] = [{"name": f.name, "reason": f.reason} for f in plugins.failures]
    for key, blocked in (("blocked", True), ("not_autoloaded", False)):
        document[key] = [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "reason": p.reason}
            for p in plugins.left_out
            if p.blocked is blocked
        ]
    return document


@app.command("plugins")
@user_errors
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the loaded plugins, everything they registered (operators, extractors, actions, rotations, targets,
    channels, sources, settings), the observer hooks they implement, and the plugins left out."""
    from tocsin.registry import EXTENSION_POINTS

    document = describe_plugins(load_plugin_set())
    if as_json:
        emit_json(document)
        return
    table = Table("tocsin extension points", ("kind", "name", "plugin"))
    for point in EXTENSION_POINTS:
        for name, entry in document[point.key].items():
            table.add_row(point.key, name, entry["plugin"])
    for hook, implementers in document["observers"].items():
        for plugin in implementers:
            table.add_row("observers", hook, plugin)
    show(table)
    for plugin in document["plugins"]:
        echo(f"plugin {plugin['name']}{_dist(plugin)}")
    for plugin in [*document["blocked"], *document["not_autoloaded"]]:
        echo(f"plugin {plugin['name']}{_dist(plugin)}: {plugin['reason']}")


def _dist(plugin: dict[str, Any]) -> str:
    return f" ({plugin['distribution']} {plugin['version']})" if plugin["distribution"] else ""
