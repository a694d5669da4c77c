"""``tocsin test --config CONFIG SCENARIO_FILES…``: check each scenario's ``expect`` block; exit 1 on a mismatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tocsin.cli._app import app, echo, load, user_errors
from tocsin.errors import ConfigError


@app.command("test")
@user_errors
def test_command(
    scenario_files: list[Path] = typer.Argument(..., help="Scenario files with an expect block."),
    config: Path = typer.Option(..., "--config", help="The configuration file (YAML, TOML or JSON)."),
) -> None:
    """Run each scenario against CONFIG and compare what would be paged with its expectations."""
    from tocsin.simulation.runner import compare, describe_page, simulate
    from tocsin.simulation.scenario import load_scenario

    plugins, loaded = load(config)
    failed = 0
    for path in scenario_files:
        try:
            scenario = load_scenario(path)
        except ConfigError as exc:
            failed += 1
            echo(f"ERROR {path}", err=True)
            echo(str(exc), err=True)
            continue
        result = simulate(scenario, loaded, plugins)
        differences = compare(result)
        if not differences:
            echo(f"PASS {scenario.name} ({path}): {len(result.pages())} page(s)")
            continue
        failed += 1
        echo(f"FAIL {scenario.name} ({path})")
        for line in differences:
            echo(f"  {line}")
        echo("  pages sent:")
        pages: list[dict[str, Any] | None] = [*result.pages()] or [None]
        for page in pages:
            echo(f"    {describe_page(page) if page else '(none)'}")
        echo(f"  final status: {result.status or 'no escalation'}")
    total = len(scenario_files)
    echo(f"{total - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
