"""Maintenance windows in the config: one-off or weekly windows during which matching incidents page nobody.

```yaml
maintenance:
  nightly-deploy:
    timezone: Europe/Berlin
    weekly: {days_of_week: [1, 2, 3, 4, 5], start_hour: 2, end_hour: 3}   # or start: / end: (one-off)
    match: {labels: {env: staging}}     # labels, source, integration; none given: every incident
    on_end: escalate                    # escalate (default) | drop
    reason: nightly deploys
```

An incident that arrives while a window holds it is stored, marked ``suppressed: maintenance``, and pages
nobody: with ``on_end: escalate`` its escalation starts held until the window ends (the window's end is the
escalation's own first due time, so the engine's due-queue runs it, and it survives restarts); with ``drop`` it
never escalates. Each occurrence of a config window has an id, ``NAME@START`` (its start in ISO 8601), which
is what ending it early through the API names. Windows made through the API are
:class:`~tocsin.store.records.MaintenanceWindow` records in the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import attrs

from tocsin.models import FieldError, MaintenanceMatch, OnEnd, TimeRestrictions
from tocsin.schedules.windows import WeeklyWindows, weekly_windows
from tocsin.store.records import MaintenanceWindow, WindowSource
from tocsin.wallclock import UnknownTimeZoneError, Zone, load_zone, seconds

__all__ = ["ConfigWindows", "MaintenanceSettings", "check_maintenance", "occurrence_id"]

_FAR = timedelta(days=8)  # a weekly window's next occurrence is found within this


@attrs.frozen(kw_only=True)
class MaintenanceSettings:
    """A window of the config: from ``start`` to ``end`` once, or every week in the ``weekly`` windows (the
    shape of a layer's ``restrictions``), in ``timezone``. Naive times are its local time."""

    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    weekly: tuple[TimeRestrictions, ...] = ()
    match: MaintenanceMatch = attrs.field(factory=MaintenanceMatch)
    on_end: OnEnd = attrs.field(default=OnEnd.ESCALATE, converter=OnEnd)
    reason: str = ""

    def __attrs_post_init__(self) -> None:
        once = self.start is not None or self.end is not None
        if once == bool(self.weekly):
            raise FieldError("weekly", "give either start and end (one window) or weekly (every week), not both")
        if once and (self.start is None or self.end is None):
            raise FieldError("end" if self.end is None else "start", "a one-off window needs both start and end")
        if self.start is not None and self.end is not None:
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise FieldError("end", "start and end must both have a UTC offset or both have none")
            if self.end <= self.start:
                raise FieldError("end", f"must be after start ({self.start.isoformat()})")


def occurrence_id(name: str, start: datetime) -> str:
    """The id of the occurrence of config window ``name`` that starts at ``start``."""
    return f"{name}@{start.isoformat()}"


@attrs.frozen
class _Compiled:
    name: str
    settings: MaintenanceSettings
    zone: Zone
    weekly: WeeklyWindows | None


class ConfigWindows:
    """The config's windows compiled once: which occurrences hold incidents at an instant, and which is next.

    :raises FieldError: a window's time zone is unknown (the config check reports it first).
    """

    def __init__(self, settings: Mapping[str, MaintenanceSettings]) -> None:
        self._windows = [
            _Compiled(name, window, load_zone(window.timezone), weekly_windows(window.weekly))
            for name, window in settings.items()
        ]

    def __bool__(self) -> bool:
        return bool(self._windows)

    def active_at(self, instant: datetime) -> list[MaintenanceWindow]:
        """The occurrences open at ``instant`` (each as a record of source ``config``, not stored)."""
        found = []
        for window in self._windows:
            occurrence = self._occurrence(window, instant, after=False)
            if occurrence is not None and occurrence.start <= instant < occurrence.end:
                found.append(occurrence)
        return found

    def upcoming(self, instant: datetime) -> list[MaintenanceWindow]:
        """For each window, the occurrence open at ``instant`` or else the next one (one-off windows that are
        over are left out), by start."""
        found = []
        for window in self._windows:
            occurrence = self._occurrence(window, instant, after=False) or self._occurrence(window, instant, after=True)
            if occurrence is not None and occurrence.end > instant:
                found.append(occurrence)
        return sorted(found, key=lambda occurrence: occurrence.start)

    def occurrence(self, occurrence_id: str, instant: datetime) -> MaintenanceWindow | None:
        """The occurrence ``occurrence_id`` if it is open at ``instant`` (or ``NAME`` alone: its occurrence open
        then), else None."""
        for window in self.active_at(instant):
            if window.id == occurrence_id or window.id.partition("@")[0] == occurrence_id:
                return window
        return None

    def _occurrence(self, window: _Compiled, instant: datetime, *, after: bool) -> MaintenanceWindow | None:
        """The occurrence of ``window`` holding ``instant`` (``after``: the first starting after it)."""
        settings, zone = window.settings, window.zone
        if not settings.weekly:  # one-off
            assert settings.start is not None and settings.end is not None
            start, end = zone.localize(settings.start), zone.localize(settings.end)
            return self._record(window, start, end) if (start > instant) == after else None
        if window.weekly is None:  # covers the whole week: refused by the config check, never holds anything
            return None
        wall = zone.wall(seconds(instant))
        if not after:
            held = window.weekly.window_at(wall)
            if held is None:
                return None
            return self._record(window, zone.datetime(zone.instant(held[0])), zone.datetime(zone.instant(held[1])))
        horizon = zone.wall(seconds(instant + _FAR))
        for low, high in window.weekly.between(wall, horizon):
            if low > wall:
                return self._record(window, zone.datetime(zone.instant(low)), zone.datetime(zone.instant(high)))
        return None

    def _record(self, window: _Compiled, start: datetime, end: datetime) -> MaintenanceWindow:
        settings = window.settings
        return MaintenanceWindow(
            id=occurrence_id(window.name, start),
            start=start,
            end=end,
            match=settings.match,
            on_end=settings.on_end,
            reason=settings.reason,
            created_at=start,
            source=WindowSource.CONFIG,
        )


def check_maintenance(windows: Mapping[str, MaintenanceSettings]) -> Iterator[tuple[str, str]]:
    """Config check of the ``maintenance`` section: known time zones, and names that can be path segments."""
    for name, window in windows.items():
        if not name or "/" in name or "@" in name:
            yield f"$.maintenance[{name!r}]", "a window name must be non-empty, without '/' or '@'"
        try:
            load_zone(window.timezone)
        except UnknownTimeZoneError as exc:
            yield f"$.maintenance[{name!r}].timezone", str(exc)
        if window.weekly and weekly_windows(window.weekly) is None:
            yield f"$.maintenance[{name!r}].weekly", "covers the whole week: the window would never close"
