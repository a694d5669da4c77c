"""``tocsin simulate CONFIG SCENARIO_FILE``: run a scenario in virtual time and print its timeline.

Nothing is delivered: the timeline says what would be sent, to whom, through which channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tocsin.cli._app import app, echo, emit_json, load, user_errors

if TYPE_CHECKING:
    from tocsin.simulation.runner import SimulationResult


@app.command("simulate")
@user_errors
def simulate_command(
    config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON)."),
    scenario_file: Path = typer.Argument(..., help="The scenario (YAML): start, incident, events, until."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {timeline, status}."),
) -> None:
    """Run SCENARIO_FILE against CONFIG on a virtual clock and show every page and lifecycle event."""
    from tocsin.simulation.runner import simulate
    from tocsin.simulation.scenario import load_scenario

    plugins, loaded = load(config)
    result = simulate(load_scenario(scenario_file), loaded, plugins)
    if as_json:
        emit_json(result.to_json())
        return
    show_timeline(result)


def show_timeline(result: SimulationResult) -> None:
    """Print the timeline, one line per entry, and the final status. A timeline whose entries fall on more than
    one (local) day shows each entry's date before its time."""
    echo(f"{result.scenario.name} (from {result.scenario.start.isoformat()})")
    dated = len({entry["at"][:10] for entry in result.timeline}) > 1
    for entry in result.timeline:
        echo(_line(entry, dated))
    echo(f"status: {result.status or 'no escalation'}")


def _line(entry: dict[str, Any], dated: bool = False) -> str:
    minute = f"{entry['minute']:g}m"
    clock = f"{entry['at'][:10]} {entry['at'][11:19]}" if dated else entry["at"][11:19]
    event = entry["event"]
    where = f"L{entry['level']} p{entry['pass']}" if "level" in entry and "pass" in entry else ""
    if event in ("notify", "announce"):
        what = f"{entry['recipient']} via {entry['channel']}"
        if "urgency" in entry:
            what += f" ({entry['urgency']} urgency)"
    elif event == "incident_processed":
        what = f"policy {entry.get('policy') or '(none applies)'}; rules: {', '.join(entry['matched']) or '-'}"
    elif event == "started":
        what = f"policy {entry['policy']}"
    else:
        parts = [f"by {entry['by']}" if "by" in entry else "", entry.get("detail", ""), entry.get("action", "")]
        what = "; ".join(part for part in parts if part)
    if entry.get("late"):
        what = f"(late) {what}".strip()
    return f"{minute:>8}  {clock}  {event:<18} {where:<7} {what}".rstrip()
