"""``tocsin oncall CONFIG SCHEDULE_ID``: who is on call, the final shifts, coverage gaps, an iCalendar feed."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tocsin.cli._app import UserError, app, echo, emit_json, load, user_errors
from tocsin.cli._tables import Table, show

if TYPE_CHECKING:
    from tocsin.schedules.resolver import ScheduleResolver

DEFAULT_SPAN = timedelta(days=7)


def _moment(resolver: ScheduleResolver, value: str | None, option: str, default: datetime) -> datetime:
    """Parse an ISO 8601 option; without an offset it is the schedule's wall-clock time."""
    if value is None:
        return resolver.localize(default)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{option}: expected an ISO 8601 date-time such as 2026-03-08T09:00, got {value!r}") from None
    return resolver.localize(parsed)


def _when(moment: datetime) -> str:
    return moment.isoformat()


@app.command("oncall")
@user_errors
def oncall(
    config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON)."),
    schedule_id: str = typer.Argument(..., help="The id of the schedule."),
    at: str | None = typer.Option(None, "--at", help="The instant to ask about (ISO 8601; default: now)."),
    shifts: bool = typer.Option(False, "--shifts", help="List the final shifts from --start to --end."),
    gaps: bool = typer.Option(False, "--gaps", help="List the stretches with nobody on call."),
    ical: bool = typer.Option(False, "--ical", help="Print an iCalendar feed of the final shifts."),
    start: str | None = typer.Option(None, "--start", help="Range start (ISO 8601; default: --at or now)."),
    end: str | None = typer.Option(None, "--end", help="Range end (ISO 8601; default: 7 days after the start)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show who is on call for SCHEDULE_ID (or, with --shifts/--gaps/--ical, over a range).

    Times without a UTC offset are read in the schedule's time zone; output times carry their offset.
    """
    from tocsin.clock import SystemClock
    from tocsin.schedules.resolver import compile_schedule

    if sum((shifts, gaps, ical)) > 1:
        raise UserError("choose one of --shifts, --gaps and --ical")
    plugins, loaded = load(config)
    schedule = loaded.schedule(schedule_id)
    if schedule is None:
        known = ", ".join(repr(s.id) for s in loaded.schedules) or "(none)"
        raise UserError(f"{config}: unknown schedule {schedule_id!r}; known: {known}")
    resolver = compile_schedule(schedule, plugins.registry)
    instant = _moment(resolver, at, "--at", SystemClock().now())
    if not (shifts or gaps or ical):
        _show_oncall(resolver, instant, as_json)
        return
    low = _moment(resolver, start, "--start", instant)
    high = _moment(resolver, end, "--end", low + DEFAULT_SPAN)
    if high <= low:
        raise UserError(f"--end ({_when(high)}) must be after --start ({_when(low)})")
    if ical:
        sys.stdout.write(resolver.to_ical(low, high).decode("utf-8"))
    elif shifts:
        _show_shifts(resolver, low, high, as_json)
    else:
        _show_gaps(resolver, low, high, as_json)


def _show_oncall(resolver: ScheduleResolver, instant: datetime, as_json: bool) -> None:
    entries = resolver.oncall_at(instant)
    schedule = resolver.schedule
    if as_json:
        emit_json({"schedule": schedule.id, "at": _when(instant), "oncall": [e.as_dict() for e in entries]})
        return
    title = f"{schedule.name or schedule.id} at {_when(instant)}"
    if not entries:
        fallback = f"; fallback: {resolver.fallback.type}" if resolver.fallback is not None else ""
        echo(f"{title}: nobody is on call{fallback}")
        return
    table = Table(title, ("user", "layer", "from", "until"))
    for entry in entries:
        table.add_row(entry.user, entry.layer, _when(entry.shift_start), _when(entry.shift_end))
    show(table)


def _show_shifts(resolver: ScheduleResolver, low: datetime, high: datetime, as_json: bool) -> None:
    found = resolver.shifts(low, high)
    if as_json:
        emit_json({"schedule": resolver.schedule.id, "shifts": [shift.as_dict() for shift in found]})
        return
    name = resolver.schedule.name or resolver.schedule.id
    table = Table(f"{name}: shifts {_when(low)} to {_when(high)}", ("user", "layer", "start", "end"))
    for shift in found:
        table.add_row(shift.user, shift.layer, _when(shift.start), _when(shift.end))
    show(table)


def _show_gaps(resolver: ScheduleResolver, low: datetime, high: datetime, as_json: bool) -> None:
    found = resolver.gaps(low, high)
    if as_json:
        emit_json({"schedule": resolver.schedule.id, "gaps": [gap.as_dict() for gap in found]})
        return
    name = resolver.schedule.name or resolver.schedule.id
    if not found:
        echo(f"{name}: someone is on call from {_when(low)} to {_when(high)}")
        return
    table = Table(f"{name}: nobody on call", ("start", "end"))
    for gap in found:
        table.add_row(_when(gap.start), _when(gap.end))
    show(table)
