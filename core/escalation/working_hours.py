"""Working-hours windows: named weekly wall-clock windows in a time zone, for smart escalation levels.

```yaml
working_hours:
  business:
    timezone: Europe/Berlin
    intervals:
      - {days: [1, 2, 3, 4, 5], start: "09:00", end: "17:30"}   # days: 0=Sunday … 6=Saturday
```

An interval whose ``end`` is before its ``start`` runs overnight and belongs to the day it starts;
``start == end`` is a whole day; ``end`` may be ``"24:00"``. Several intervals may be given; overlapping or
touching ones merge. A level uses a window by name: ``when: {during: business}`` / ``{outside: business}``
decides whether the level runs at its due time, and ``delay_counts_during: business`` counts the level's
delay only while the window is open.

Compiled windows reuse the schedule machinery (:mod:`tocsin.wallclock`, :mod:`tocsin.schedules.windows`): times are
wall-clock seconds in the window's zone, so the DST rules are the schedules' rules — a window boundary
inside a spring-forward gap happens when the clock jumps, an ambiguous one at its first occurrence, and a
window that spans a DST change is as long as the clocks say (an hour shorter or longer in real time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from tocsin.instants import MICROS_PER_SECOND
from tocsin.models import FieldError, TimeRestrictions
from tocsin.schedules.windows import WeeklyWindows, weekly_windows
from tocsin.wallclock import WEEK, UnknownTimeZoneError, Zone, load_zone

__all__ = [
    "WorkingHours",
    "WorkingHoursError",
    "WorkingInterval",
    "WorkingWindow",
    "check_working_hours",
    "compile_working_hours",
]

_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")


class WorkingHoursError(ValueError):
    """A working-hours window that cannot be compiled (an unknown time zone)."""


def _quoted(name: str, value: Any) -> Any:
    # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050: say so, rather than "expected a string".
    if isinstance(value, int) and not isinstance(value, bool):
        written = f"{value // 60}:{value % 60:02d}" if 0 <= value <= 24 * 60 else str(value)
        raise FieldError(
            name,
            f'write times of day in quotes, such as "09:00"; got the number {value} (YAML reads {written} '
            "without quotes as a number)",
        )
    return value


# Named functions, not closures: the attrs plugin of mypy reads a converter's type only from a named function.
def _quoted_start(value: Any) -> Any:
    return _quoted("start", value)


def _quoted_end(value: Any) -> Any:
    return _quoted("end", value)


def _clock_time(*, allow_24: bool) -> Callable[[Any, attrs.Attribute[Any], str], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        match = _CLOCK.match(value) if isinstance(value, str) else None
        hour, minute = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
        ok = match is not None and 0 <= minute <= 59 and (0 <= hour <= 23 or (allow_24 and (hour, minute) == (24, 0)))
        if not ok:
            latest = "24:00" if allow_24 else "23:59"
            raise FieldError(attribute.name, f"expected a time of day HH:MM from 00:00 to {latest}, got {value!r}")

    return check


def _week_days(instance: Any, attribute: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "must name at least one day (0=Sunday … 6=Saturday)")
    for day in value:
        if not 0 <= day <= 6:
            raise FieldError(attribute.name, f"unknown day {day}: days are 0 (Sunday) to 6 (Saturday)")


def _some_intervals(instance: Any, attribute: attrs.Attribute[Any], value: tuple[WorkingInterval, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "a working-hours window needs at least one interval")


@attrs.frozen(kw_only=True)
class WorkingInterval:
    """From ``start`` to ``end`` (``"HH:MM"``, local time) on each of ``days`` (0=Sunday … 6=Saturday)."""

    days: tuple[int, ...] = attrs.field(validator=_week_days)
    # Typed Any for the config loader (see ``_quoted``); always a "HH:MM" string once built.
    start: Any = attrs.field(converter=_quoted_start, validator=_clock_time(allow_24=False))
    end: Any = attrs.field(converter=_quoted_end, validator=_clock_time(allow_24=True))

    def restrictions(self) -> TimeRestrictions:
        """The same window as the schedules' :class:`~tocsin.TimeRestrictions`."""
        start_hour, start_minute = (int(part) for part in self.start.split(":"))
        end_hour, end_minute = (int(part) for part in self.end.split(":"))
        return TimeRestrictions(
            days_of_week=self.days,
            start_hour=start_hour,
            start_minute=start_minute,
            end_hour=end_hour,
            end_minute=end_minute,
        )


@attrs.frozen(kw_only=True)
class WorkingHours:
    """A named window's definition: its time zone and its weekly intervals."""

    timezone: str = "UTC"
    intervals: tuple[WorkingInterval, ...] = attrs.field(validator=_some_intervals)


class WorkingWindow:
    """A compiled working-hours window. Instants are integer microseconds since the epoch (UTC)."""

    __slots__ = ("_weekly", "name", "zone")

    def __init__(self, name: str, zone: Zone, weekly: WeeklyWindows | None) -> None:
        self.name = name
        self.zone = zone
        self._weekly = weekly  # None: the intervals cover the whole week

    def __repr__(self) -> str:
        return f"WorkingWindow({self.name!r}, {self.zone.name!r})"

    def contains(self, instant: int) -> bool:
        """True when ``instant`` is inside the window (a window includes its start, not its end)."""
        weekly = self._weekly
        return weekly is None or weekly.contains(self.zone.wall(instant // MICROS_PER_SECOND))

    def add(self, start: int, duration: int) -> int:
        """The instant at which ``duration`` of open-window time has passed, counting from ``start``.

        Time counts only while the window is open, in real (elapsed) time. A delay that ends exactly when
        the window closes is due at the close; a zero delay is due at ``start`` when the window is open
        then, else when it next opens.
        """
        weekly = self._weekly
        if weekly is None:
            return start + duration
        zone = self.zone
        cursor = start
        remaining = duration
        low = zone.wall(start // MICROS_PER_SECOND)
        while True:
            for wall_start, wall_end in weekly.between(low, low + WEEK):
                end = zone.instant(wall_end) * MICROS_PER_SECOND
                if end <= cursor:
                    continue
                begin = max(zone.instant(wall_start) * MICROS_PER_SECOND, cursor)
                span = end - begin
                if remaining <= span:
                    return begin + remaining
                remaining -= span
                cursor = end
            low += WEEK

    def describe(self, instant: int) -> str:
        """``instant`` in the window's zone, for messages: ``Fri 2026-03-27 23:00 Europe/Berlin``."""
        local = self.zone.datetime(instant // MICROS_PER_SECOND)
        return f"{local:%a %Y-%m-%d %H:%M} {self.zone.name}"


def compile_working_hours(name: str, hours: WorkingHours) -> WorkingWindow:
    """Compile one window; :class:`WorkingHoursError` names it when its time zone is unknown."""
    try:
        zone = load_zone(hours.timezone)
    except UnknownTimeZoneError as exc:
        raise WorkingHoursError(f"working hours {name!r}: {exc}") from None
    return WorkingWindow(name, zone, weekly_windows(interval.restrictions() for interval in hours.intervals))


def check_working_hours(working_hours: Mapping[str, WorkingHours]) -> Iterator[tuple[str, str]]:
    """Config check of the ``working_hours`` section: each window's time zone must be known (the field
    validators check the rest)."""
    for name, hours in working_hours.items():
        try:
            load_zone(hours.timezone)
        except UnknownTimeZoneError as exc:
            yield f"$.working_hours[{name!r}].timezone", str(exc)
