"""``tocsin test --config CONFIG SCENARIO_FILES…``: check each scenario's ``expect`` block; exit 1 on a mismatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tocsin.cli._app import app, err_console, load, out_console, user_errors
from tocsin.errors import ConfigError
from tocsin.simulation.runner import compare, describe_page, simulate
from tocsin.simulation.scenario import load_scenario


@app.command("test")
@user_errors
def test_command(
    scenario_files: list[Path] = typer.Argument(..., help="Scenario files with an expect block."),
    config: Path = typer.Option(..., "--config", help="The configuration file (YAML, TOML or JSON)."),
) -> None:
    """Run each scenario against CONFIG and compare what would be paged with its expectations."""
    plugins, loaded = load(config)
    failed = 0
    for path in scenario_files:
        try:
            scenario = load_scenario(path)
        except ConfigError as exc:
            failed += 1
            err_console.print(f"ERROR {path}", markup=False)
            err_console.print(str(exc), markup=False)
            continue
        result = simulate(scenario, loaded, plugins)
        differences = compare(result)
        if not differences:
            out_console.print(f"PASS {scenario.name} ({path}): {len(result.pages())} page(s)", markup=False)
            continue
        failed += 1
        out_console.print(f"FAIL {scenario.name} ({path})", markup=False)
        for line in differences:
            out_console.print(f"  {line}", markup=False)
        out_console.print("  pages sent:", markup=False)
        pages: list[dict[str, Any] | None] = [*result.pages()] or [None]
        for page in pages:
            out_console.print(f"    {describe_page(page) if page else '(none)'}", markup=False)
        out_console.print(f"  final status: {result.status or 'no escalation'}", markup=False)
    total = len(scenario_files)
    out_console.print(f"{total - failed} passed, {failed} failed", markup=False)
    if failed:
        raise typer.Exit(1)
