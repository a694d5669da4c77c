"""iCalendar (RFC 5545) feeds of a schedule's final shifts, for calendar apps to subscribe to."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

import icalendar

from tocsin.models import OnCallSchedule
from tocsin.schedules.answers import Shift
from tocsin.wallclock import Zone

__all__ = ["PRODID", "person_calendar", "shifts_calendar"]

PRODID = "-//tocsin//on-call schedule//EN"


def _uid(schedule: OnCallSchedule, shift: Shift) -> str:
    key = f"{schedule.id}\n{shift.layer}\n{shift.user}\n{shift.start.isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@tocsin"


def shifts_calendar(
    schedule: OnCallSchedule,
    zone: Zone,
    shifts: Sequence[Shift],
    start: datetime,
    end: datetime,
    *,
    stamp: datetime | None = None,
) -> bytes:
    """A VCALENDAR for the range ``[start, end)``: the VTIMEZONE of the schedule's time zone (covering the
    range) and one VEVENT per shift (SUMMARY ``On call: USER (LAYER)``) with times in that zone. A UID comes
    from the schedule, layer, user and start, so a shift keeps its UID from one feed to the next (one cut short
    by the start of the range has its own).

    :param stamp: the DTSTAMP of every event; default: the current time.
    """
    calendar = _calendar(schedule.name or schedule.id)
    calendar.add("x-wr-timezone", zone.name)
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)
    calendar.add_component(_timezone(zone, start, end))
    for shift in shifts:
        calendar.add_component(_event(schedule, zone, shift, stamp, f"On call: {shift.user} ({shift.layer})"))
    return cast(bytes, calendar.to_ical())  # icalendar leaves to_ical() unannotated


def person_calendar(
    person: str,
    schedules: Sequence[tuple[OnCallSchedule, Zone, Sequence[Shift]]],
    start: datetime,
    end: datetime,
    *,
    stamp: datetime | None = None,
) -> bytes:
    """A VCALENDAR of one person's shifts in ``[start, end)`` across ``schedules`` (each with its zone and that
    person's shifts in it): one VTIMEZONE per zone, one VEVENT per shift (SUMMARY ``On call: SCHEDULE
    (LAYER)``), UIDs as in :func:`shifts_calendar`."""
    calendar = _calendar(f"On call: {person}")
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)
    zones: set[str] = set()
    for _schedule, zone, _ in schedules:
        if zone.name not in zones:
            zones.add(zone.name)
            calendar.add_component(_timezone(zone, start, end))
    for schedule, zone, shifts in schedules:
        for shift in shifts:
            title = f"On call: {schedule.name or schedule.id} ({shift.layer})"
            calendar.add_component(_event(schedule, zone, shift, stamp, title))
    return cast(bytes, calendar.to_ical())


def _calendar(name: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def _timezone(zone: Zone, start: datetime, end: datetime) -> icalendar.Timezone:
    first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
    return icalendar.Timezone.from_tzid(zone.name, first_date=first, last_date=last)


def _event(schedule: OnCallSchedule, zone: Zone, shift: Shift, stamp: datetime, summary: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", _uid(schedule, shift))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start.astimezone(zone.tzinfo))
    event.add("dtend", shift.end.astimezone(zone.tzinfo))
    event.add("summary", summary)
    event.add("categories", [shift.layer])
    event.add("transp", "TRANSPARENT")
    return event
