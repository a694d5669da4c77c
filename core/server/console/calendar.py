"""Schedules as the console shows them: who is on call now and next, and a two-week calendar.

The calendar has one row per layer (that layer's own rotation shifts, within its restrictions), a row of
overrides, and the final row (who is really paged: layers combined, overrides applied) with its coverage gaps.
Bars are placed as fractions of the two weeks, so the page draws them with SVG attributes and no inline style.
Overrides are read through :func:`schedule_overrides`, the one place that knows where they come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import attrs

from tocsin.models import OnCallSchedule, Override
from tocsin.registry import Registry
from tocsin.schedules.resolver import OnCallEntry, ScheduleResolver, compile_schedule

__all__ = ["DAYS", "Bar", "Calendar", "CalendarRow", "OnCallNow", "calendar", "oncall_now", "schedule_overrides"]

DAYS = 14


@attrs.frozen(kw_only=True)
class OnCallNow:
    """A schedule's present: who is on call, when that next changes, and who is on call then."""

    schedule: OnCallSchedule
    now: list[OnCallEntry]
    handoff: datetime | None
    next: list[OnCallEntry]


def oncall_now(resolver: ScheduleResolver, at: datetime) -> OnCallNow:
    """Who is on call for ``resolver``'s schedule at ``at`` and after its next handoff (times in its zone)."""
    local = resolver.localize(at)
    handoff = resolver.next_handoff(local, within=timedelta(days=DAYS * 4))
    following = resolver.oncall_at(handoff) if handoff is not None else []
    return OnCallNow(schedule=resolver.schedule, now=resolver.oncall_at(local), handoff=handoff, next=following)


@attrs.frozen(kw_only=True)
class Bar:
    """One stretch on a row: who (None: a gap), from and until, and where it sits as fractions of the range."""

    user: str | None
    start: datetime
    end: datetime
    left: float
    width: float
    colour: int  # which of the page's user colours (-1 for a gap)


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


def schedule_overrides(schedule: OnCallSchedule) -> Sequence[Override]:
    """The overrides of ``schedule`` the calendar marks: the config's."""
    return schedule.overrides


def calendar(resolver: ScheduleResolver, registry: Registry, first: date) -> Calendar:
    """The two weeks of ``resolver``'s schedule starting at midnight of ``first``, in its time zone."""
    schedule = resolver.schedule
    start = resolver.localize(datetime.combine(first, time()))
    end = resolver.localize(datetime.combine(first + timedelta(days=DAYS), time()))
    days = tuple(resolver.localize(datetime.combine(first + timedelta(days=n), time())) for n in range(DAYS))
    colours: dict[str, int] = {}

    def bar(user: str | None, low: datetime, high: datetime) -> Bar:
        colour = -1 if user is None else colours.setdefault(user, len(colours))
        span = (end - start).total_seconds()
        left = (max(low, start) - start).total_seconds() / span
        right = (min(high, end) - start).total_seconds() / span
        return Bar(user=user, start=low, end=high, left=left, width=max(right - left, 0.0), colour=colour)

    rows = []
    for layer in schedule.layers:
        alone = compile_schedule(attrs.evolve(schedule, layers=(layer,), overrides=(), fallback=None), registry)
        shifts = alone.shifts(start, end)
        rows.append(CalendarRow(name=layer.name, kind="layer", bars=tuple(bar(s.user, s.start, s.end) for s in shifts)))
    overrides = [
        bar(override.user, resolver.localize(override.start), resolver.localize(override.end))
        for override in schedule_overrides(schedule)
        if resolver.localize(override.end) > start and resolver.localize(override.start) < end
    ]
    rows.append(CalendarRow(name="Overrides", kind="overrides", bars=tuple(overrides)))
    final = [bar(shift.user, shift.start, shift.end) for shift in resolver.shifts(start, end)]
    gaps = [bar(None, gap.start, gap.end) for gap in resolver.gaps(start, end)]
    merged = tuple(sorted([*final, *gaps], key=lambda item: item.start))
    rows.append(CalendarRow(name="On call", kind="final", bars=merged))
    return Calendar(
        first=first, start=start, end=end, days=days, rows=tuple(rows), gaps=len(gaps), legend=tuple(colours.items())
    )
