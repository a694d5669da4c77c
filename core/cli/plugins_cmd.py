"""``tocsin plugins``: what each loaded plugin registered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tocsin.cli._app import app, echo, emit_json, load_plugin_set, user_errors
from tocsin.cli._tables import Table, show

if TYPE_CHECKING:
    from tocsin.manager import Plugins


def describe_plugins(plugins: Plugins) -> dict[str, Any]:
    """The ``tocsin plugins --json`` document: each registered name with its plugin, and the plugin list."""
    document: dict[str, Any] = {}
    for key, table in plugins.registry.tables().items():  # in EXTENSION_POINTS order
        document[key] = {entry.name: {"plugin": entry.plugin} for entry in sorted(table, key=lambda e: e.name)}
    document["plugins"] = [
        {"name": info.name, "distribution": info.distribution, "version": info.version} for info in plugins.info
    ]
    document["failures"] = [{"name": f.name, "reason": f.reason} for f in plugins.failures]
    return document


@app.command("plugins")
@user_errors
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the loaded plugins and every operator, extractor, action, rotation, target, channel and source."""
    from tocsin.registry import EXTENSION_POINTS

    document = describe_plugins(load_plugin_set())
    if as_json:
        emit_json(document)
        return
    table = Table("tocsin extension points", ("kind", "name", "plugin"))
    for point in EXTENSION_POINTS:
        for name, entry in document[point.key].items():
            table.add_row(point.key, name, entry["plugin"])
    show(table)
    for plugin in document["plugins"]:
        dist = f" ({plugin['distribution']} {plugin['version']})" if plugin["distribution"] else ""
        echo(f"plugin {plugin['name']}{dist}")
