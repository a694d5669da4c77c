"""Schedules as the console shows them: who is on call now and next, and a two-week calendar.

The calendar has one row per layer (that layer's own rotation shifts, within its restrictions), a row of
overrides (the config's and those made at run time, as ``GET /v1/schedules/{id}/overrides`` lists them), and the
final row (who is really paged: layers combined, every override applied, as ``/oncall`` and ``/shifts`` answer)
with its coverage gaps. Bars are placed as fractions of the two weeks, so the page draws them with SVG
attributes and no inline style.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import attrs

from tocsin.escalation.overrides import RuntimeOverrides
from tocsin.models import OnCallSchedule
from tocsin.registry import Registry
from tocsin.schedules.resolver import OnCallEntry, ScheduleResolver, Shift, compile_schedule
from tocsin.server.override_entries import override_entries

__all__ = ["DAYS", "Bar", "Calendar", "CalendarRow", "OnCallNow", "calendar", "oncall_at", "oncall_now"]

DAYS = 14


@attrs.frozen(kw_only=True)
class OnCallNow:
    """A schedule's present: who is on call, when that next changes, and who is on call then; ``until`` says
    when each of them stops being on call (their shifts joined end to end: a swap or an override may keep
    someone on past the end of their layer's shift)."""

    schedule: OnCallSchedule
    now: list[OnCallEntry]
    handoff: datetime | None
    next: list[OnCallEntry]
    until: dict[str, datetime] = attrs.field(factory=dict)


def oncall_now(resolver: ScheduleResolver, made: RuntimeOverrides, at: datetime) -> OnCallNow:
    """Who is on call for ``resolver``'s schedule at ``at`` and after its next handoff (times in its zone), the
    overrides in ``made`` counted."""
    local = resolver.localize(at)
    within = timedelta(days=DAYS * 4)
    merged = made.merged(resolver, local, local + within)
    handoff = merged.next_handoff(local, within=within)
    now = merged.oncall_at(local)
    following = merged.oncall_at(handoff) if handoff is not None else []
    shifts = merged.shifts(local, local + within)
    until = {entry.user: _stretch_end(shifts, entry.user, local) for entry in now}
    if handoff is not None:
        until.update({entry.user: _stretch_end(shifts, entry.user, handoff) for entry in following})
    return OnCallNow(
        schedule=resolver.schedule,
        now=now,
        handoff=handoff,
        next=following,
        until={user: end for user, end in until.items() if end is not None},
    )


def _stretch_end(shifts: list[Shift], user: str, at: datetime) -> datetime | None:
    """When ``user``, on call at ``at``, stops being on call: the end of the chain of their final shifts that
    covers ``at``, each starting where the one before ends (None: not in ``shifts``)."""
    end: datetime | None = None
    for shift in sorted((shift for shift in shifts if shift.user == user), key=lambda shift: shift.start):
        if end is None:
            if shift.start <= at < shift.end:
                end = shift.end
        elif shift.start <= end:
            end = max(end, shift.end)
        else:
            break
    return end


def oncall_at(resolver: ScheduleResolver, made: RuntimeOverrides, at: datetime) -> list[OnCallEntry]:
    """Who is on call for ``resolver``'s schedule at ``at``, the overrides in ``made`` counted (what
    ``GET /v1/schedules/{id}/oncall`` answers)."""
    return made.merged(resolver, at).oncall_at(at)


@attrs.frozen(kw_only=True)
class Bar:
    """One stretch on a row: who (None: a gap), from and until, and where it sits as fractions of the range."""

    user: str | None
    start: datetime
    end: datetime
    left: float
    width: float
    colour: int  # which of the page's user colours (-1 for a gap)
    note: str = ""  # what else the bar's title says (an override's layer, who made it and why)


@attrs.frozen(kw_only=True)
class CalendarRow:
    """A row of the calendar: ``kind`` is ``layer``, ``overrides`` or ``final``."""

    name: str
    kind: str
    bars: tuple[Bar, ...]


@attrs.frozen(kw_only=True)
class Calendar:
    """Two weeks of a schedule from midnight of ``first`` (its local time), row by row."""

    first: date
    start: datetime
    end: datetime
    days: tuple[datetime, ...]
    rows: tuple[CalendarRow, ...]
    gaps: int  # coverage gaps in the final row
    legend: tuple[tuple[str, int], ...]  # each user shown and their colour


def calendar(resolver: ScheduleResolver, registry: Registry, first: date, made: RuntimeOverrides) -> Calendar:
    """The two weeks of ``resolver``'s schedule starting at midnight of ``first``, in its time zone, with the
    overrides in ``made`` (those made at run time) besides the config's."""
    schedule = resolver.schedule
    start = resolver.localize(datetime.combine(first, time()))
    end = resolver.localize(datetime.combine(first + timedelta(days=DAYS), time()))
    days = tuple(resolver.localize(datetime.combine(first + timedelta(days=n), time())) for n in range(DAYS))
    colours: dict[str, int] = {}

    def bar(user: str | None, low: datetime, high: datetime, note: str = "") -> Bar:
        colour = -1 if user is None else colours.setdefault(user, len(colours))
        span = (end - start).total_seconds()
        left = (max(low, start) - start).total_seconds() / span
        right = (min(high, end) - start).total_seconds() / span
        return Bar(user=user, start=low, end=high, left=left, width=max(right - left, 0.0), colour=colour, note=note)

    rows = []
    for layer in schedule.layers:
        alone = compile_schedule(attrs.evolve(schedule, layers=(layer,), overrides=(), fallback=None), registry)
        shifts = alone.shifts(start, end)
        rows.append(CalendarRow(name=layer.name, kind="layer", bars=tuple(bar(s.user, s.start, s.end) for s in shifts)))
    overrides = [
        bar(entry.user, entry.start, entry.end, _override_note(entry.layer, entry.created_by, entry.note))
        for entry in override_entries(resolver, made, start, end)
        if entry.end > start and entry.start < end
    ]
    rows.append(CalendarRow(name="Overrides", kind="overrides", bars=tuple(overrides)))
    merged = made.merged(resolver, start, end)
    final = [bar(shift.user, shift.start, shift.end) for shift in merged.shifts(start, end)]
    gaps = [bar(None, gap.start, gap.end) for gap in merged.gaps(start, end)]
    merged_bars = tuple(sorted([*final, *gaps], key=lambda item: item.start))
    rows.append(CalendarRow(name="On call", kind="final", bars=merged_bars))
    return Calendar(
        first=first, start=start, end=end, days=days, rows=tuple(rows), gaps=len(gaps), legend=tuple(colours.items())
    )


def _override_note(layer: str | None, by: str | None, note: str) -> str:
    """``layer Primary only, made by eng1@example.com: swap for Friday`` (what applies of it)."""
    parts = [f"layer {layer} only" if layer else "", f"made by {by}" if by else ""]
    said = ", ".join(part for part in parts if part)
    return f"{said}: {note}" if said and note else said or note
