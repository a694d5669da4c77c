"""``tocsin check CONFIG``: validate a configuration and report every fault on its own line."""

from __future__ import annotations

from pathlib import Path

import typer

from tocsin.cli._app import app, echo, load, user_errors


@app.command()
@user_errors
def check(config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON).")) -> None:
    """Validate CONFIG: exit 0 when it loads (warnings, if any, on stderr as `FILE: $.path: warning: message`),
    else print one `FILE: $.path: message` line per fault."""
    from tocsin.config import config_warnings

    plugins, loaded = load(config)
    for warning in config_warnings(loaded, plugins.registry, source=str(config)):
        echo(f"{warning.file}: {warning.path}: warning: {warning.message}", err=True)
    echo(
        f"{config}: ok ({len(loaded.schedules)} schedules, {len(loaded.policies)} policies, "
        f"{len(loaded.rules)} rules, {len(loaded.teams)} teams)"
    )
