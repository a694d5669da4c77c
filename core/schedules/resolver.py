"""The schedule resolver: who is on call at an instant, and the final shifts over a range.

:func:`compile_schedule` turns an :class:`~tocsin.models.OnCallSchedule` into a :class:`ScheduleResolver`
once: time zone tables, each layer's rotation (compiled by its plugin), restriction windows and override
timelines. After that a lookup is arithmetic on integers (see :mod:`tocsin.wallclock`): no plugin calls and
no walking of shifts, so it costs the same ten years after a layer's start as on its first day.

Combining layers (``resolution``): ``all`` lists every active layer's user in layer order with duplicates
removed; ``precedence`` keeps only the last active layer in the list. An override without ``layer`` replaces
the whole answer for its window (layer ``"override"``); one with ``layer`` replaces that layer's user while
the layer is active. Where overrides overlap, the one listed later wins. Before its ``start`` a layer has
nobody on call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from tocsin.errors import TocsinError
from tocsin.models import FieldError, OnCallSchedule, Override, Resolution, TargetSpec
from tocsin.registry import Registry
from tocsin.schedules._parts import (
    DEFAULT_START,
    CompiledLayer,
    Timeline,
    change_points,
    compile_layer,
    compile_layers,
    override_timelines,
)
from tocsin.schedules.answers import Gap, OnCallEntry, Shift
from tocsin.wallclock import UnknownTimeZoneError, Zone, load_zone, seconds

__all__ = [
    "DEFAULT_START",
    "OVERRIDE_LAYER",
    "Gap",
    "OnCallEntry",
    "ScheduleError",
    "ScheduleResolver",
    "Shift",
    "check_schedules",
    "compile_schedule",
]

OVERRIDE_LAYER = "override"  # the layer name of an entry that comes from an override without ``layer``


class ScheduleError(TocsinError):
    """A schedule that cannot be compiled (unknown time zone or rotation, an override naming no layer)."""


def _instant(moment: datetime, what: str) -> int:
    try:
        return seconds(moment)
    except TypeError:  # naive, or not a datetime at all
        raise ValueError(f"{what} must be an aware datetime (with a UTC offset), got {moment!r}") from None


class ScheduleResolver:
    """Answers on-call questions for one compiled schedule. Immutable; safe to share between threads."""

    def __init__(self, schedule: OnCallSchedule, zone: Zone, layers: Sequence[CompiledLayer], final: Timeline | None):
        self.schedule = schedule
        self.zone = zone
        self._layers = tuple(layers)
        self._final = final
        self._precedence = schedule.resolution is Resolution.PRECEDENCE

    def with_overrides(self, extra: Sequence[Override]) -> ScheduleResolver:
        """This schedule with ``extra`` overrides after the configured ones (where they overlap, the one listed
        later wins: an extra one over a configured one). The layers and their rotations are reused; only the
        override timelines are built again. ``extra`` empty: this resolver itself.

        :raises ScheduleError: an override naming a layer the schedule does not have.
        """
        if not extra:
            return self
        try:
            timelines, final = override_timelines(
                (*self.schedule.overrides, *extra), (layer.name for layer in self._layers), self.zone
            )
        except ValueError as exc:
            raise ScheduleError(f"schedule {self.schedule.id!r}: {exc}") from None
        layers = [attrs.evolve(layer, overrides=timelines[layer.name]) for layer in self._layers]
        return ScheduleResolver(self.schedule, self.zone, layers, final)

    def layer_names(self) -> list[str]:
        """The names of the schedule's layers, in order."""
        return [layer.name for layer in self._layers]

    @property
    def fallback(self) -> TargetSpec | None:
        """The target an escalation pages when nobody is on call (None: nobody is paged)."""
        return self.schedule.fallback

    def localize(self, moment: datetime) -> datetime:
        """``moment`` in the schedule's time zone; a naive one is read as the schedule's wall-clock time."""
        return self.zone.localize(moment)

    # -- point queries -------------------------------------------------------------------------------------

    def users_at(self, instant: datetime) -> list[str]:
        """The users on call at ``instant`` (aware), in order; ``[]`` when nobody is."""
        return [user for user, _ in self._holders(_instant(instant, "instant"))]

    def oncall_at(self, instant: datetime) -> list[OnCallEntry]:
        """Who is on call at ``instant`` (aware), with each entry's layer and shift; ``[]`` when nobody is."""
        now = _instant(instant, "instant")
        zone = self.zone
        if self._final is not None:
            held = self._final.at(now)
            if held is not None:
                start, end, user = self._final.segment(held)
                return [
                    OnCallEntry(
                        user=user, layer=OVERRIDE_LAYER, shift_start=zone.datetime(start), shift_end=zone.datetime(end)
                    )
                ]
        wall = zone.wall(now)
        entries: list[OnCallEntry] = []
        seen: set[str] = set()
        for layer in reversed(self._layers) if self._precedence else self._layers:
            found = self._entry(layer, now, wall)
            if found is None or found[0] in seen:
                continue
            entries.append(OnCallEntry(found[0], found[1], zone.datetime(found[2]), zone.datetime(found[3])))
            if self._precedence:
                break
            seen.add(found[0])
        return entries

    def _entry(self, layer: CompiledLayer, now: int, wall: int) -> tuple[str, str, int, int] | None:
        if wall < layer.start:
            return None
        # Bounds are found on the wall clock and converted once: Zone.instant never decreases, so the
        # instant of the later wall-clock bound is the later instant.
        low, high = layer.start, None
        if layer.windows is not None:
            window = layer.windows.window_at(wall)
            if window is None:
                return None
            low, high = max(low, window[0]), window[1]
        overrides = layer.overrides
        held = overrides.at(now) if overrides is not None else None
        if overrides is not None and held is not None:
            start, end, user = overrides.segment(held)
            low = max(self.zone.instant(low), start)
            return user, layer.name, low, end if high is None else min(self.zone.instant(high), end)
        index = layer.handoffs.index(wall)
        low = max(low, layer.handoffs.handoff(index))
        end = layer.handoffs.handoff(index + 1)
        instant = self.zone.instant
        low, high = instant(low), instant(end if high is None or end < high else high)
        if layer.overrides is not None:
            low, high = layer.overrides.gap_around(now, low, high)
        return layer.holder(index), layer.name, low, high

    def _holders(self, now: int) -> list[tuple[str, int]]:
        """(user, layer index) pairs on call at ``now``; layer index -1 is an override of the whole schedule."""
        if self._final is not None:
            held = self._final.at(now)
            if held is not None:
                return [(self._final.segment(held)[2], -1)]
        wall = self.zone.wall(now)
        holders: list[tuple[str, int]] = []
        for index, layer in enumerate(self._layers):
            if wall < layer.start or (layer.windows is not None and not layer.windows.contains(wall)):
                continue
            overrides = layer.overrides
            held = overrides.at(now) if overrides is not None else None
            if overrides is None or held is None:
                user = layer.holder(layer.handoffs.index(wall))
            else:
                user = overrides.segment(held)[2]
            holders.append((user, index))
        if len(holders) < 2:
            return holders
        if self._precedence:
            return holders[-1:]
        seen: set[str] = set()
        unique: list[tuple[str, int]] = []
        for holder in holders:
            if holder[0] not in seen:
                seen.add(holder[0])
                unique.append(holder)
        return unique

    # -- range queries -------------------------------------------------------------------------------------

    def _segments(self, start: int, end: int) -> Iterator[tuple[int, int, list[tuple[str, int]]]]:
        """Maximal stretches of ``[start, end)`` with the same holders, in order."""
        points = change_points(self.zone, self._layers, self._final, start, end)
        since, current = start, self._holders(start)
        for point in points:
            holders = self._holders(point)
            if holders != current:
                yield since, point, current
                since, current = point, holders
        yield since, end, current

    def _range(self, start: datetime, end: datetime) -> tuple[int, int, Callable[[int], datetime]]:
        """Whole seconds covering ``[start, end)`` (every change happens on a whole second) and a function that
        turns an instant into a datetime, giving back ``start`` and ``end`` themselves at the two ends."""
        low, high = _instant(start, "start"), _instant(end, "end")
        if end < start:
            raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
        zone = self.zone
        first = zone.datetime(low) + timedelta(microseconds=start.microsecond)
        last = zone.datetime(high) + timedelta(microseconds=end.microsecond)
        if end.microsecond:
            high += 1
        if end == start:
            high = low

        def moment(instant: int) -> datetime:
            return first if instant == low else last if instant == high else zone.datetime(instant)

        return low, high, moment

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The final shifts overlapping ``[start, end)``, clipped to it, ordered by start then layer order."""
        low, high, moment = self._range(start, end)
        if low == high:
            return []
        opened: dict[tuple[str, int], int] = {}
        done: list[tuple[int, int, int, str]] = []
        for since, _, holders in self._segments(low, high):
            current = set(holders)
            for key in [key for key in opened if key not in current]:
                done.append((opened.pop(key), key[1], since, key[0]))
            for key in holders:
                opened.setdefault(key, since)
        done.extend((began, key[1], high, key[0]) for key, began in opened.items())
        done.sort()
        return [
            Shift(user=user, layer=self._layer_name(index), start=moment(began), end=moment(until))
            for began, index, until, user in done
        ]

    def gaps(self, start: datetime, end: datetime) -> list[Gap]:
        """The stretches of ``[start, end)`` with nobody on call, in order."""
        low, high, moment = self._range(start, end)
        if low == high:
            return []
        return [
            Gap(start=moment(since), end=moment(until))
            for since, until, holders in self._segments(low, high)
            if not holders
        ]

    def next_handoff(self, after: datetime, *, within: timedelta = timedelta(days=366)) -> datetime | None:
        """The first instant after ``after`` at which the users on call change (a rotation handoff, a
        restriction window opening or closing, an override); None if they do not change ``within`` that."""
        now = _instant(after, "after")
        horizon = now + int(within.total_seconds())
        before = [user for user, _ in self._holders(now)]
        for since, _, holders in self._segments(now, horizon):
            if since > now and [user for user, _ in holders] != before:
                return self.zone.datetime(since)
        return None

    def to_ical(self, start: datetime, end: datetime, *, stamp: datetime | None = None) -> bytes:
        """An iCalendar (RFC 5545) feed of the final shifts in ``[start, end)``: one event per shift, times in
        the schedule's time zone, whose VTIMEZONE it includes. ``stamp`` is the DTSTAMP (default: now)."""
        from tocsin.schedules.ical import shifts_calendar  # icalendar loads only when a feed is asked for

        return shifts_calendar(self.schedule, self.zone, self.shifts(start, end), start, end, stamp=stamp)

    def _layer_name(self, index: int) -> str:
        return OVERRIDE_LAYER if index < 0 else self._layers[index].name


# -- compiling ---------------------------------------------------------------------------------------------


def compile_schedule(schedule: OnCallSchedule, registry: Registry) -> ScheduleResolver:
    """Compile ``schedule`` once into a resolver; lookups never call a plugin again.

    :raises ScheduleError: an unknown time zone or rotation type, a rotation the plugin rejects, two layers
        with one name, or an override naming a layer the schedule does not have.
    """
    try:
        zone = load_zone(schedule.timezone)
        layers, final = compile_layers(schedule, registry, zone)
    except (UnknownTimeZoneError, ValueError) as exc:
        raise ScheduleError(f"schedule {schedule.id!r}: {exc}") from None
    return ScheduleResolver(schedule, zone, layers, final)


def check_schedules(schedules: Sequence[OnCallSchedule], registry: Registry) -> Iterator[tuple[str, str]]:
    """Config check of the ``schedules`` section: ``(path, message)`` for each fault the field validators cannot
    see (unknown time zone, a layer whose rotation its plugin rejects or that lists users it would not use or none
    it needs, duplicate layer names, an override naming an unknown layer)."""
    for s, schedule in enumerate(schedules):
        base = f"$.schedules[{s}]"
        try:
            zone = load_zone(schedule.timezone)
        except UnknownTimeZoneError as exc:
            yield f"{base}.timezone", str(exc)
            zone = load_zone("UTC")  # the layers are still checked
        names: dict[str, int] = {}
        for index, layer in enumerate(schedule.layers):
            path = f"{base}.layers[{index}]"
            if layer.name in names:
                first = f"{base}.layers[{names[layer.name]}]"
                yield f"{path}.name", f"duplicate layer name {layer.name!r} (first used at {first})"
            names.setdefault(layer.name, index)
            try:
                compile_layer(layer, registry, zone)
            except FieldError as exc:
                yield f"{path}.{exc.field}", exc.message
        for index, override in enumerate(schedule.overrides):
            if override.layer is not None and override.layer not in names:
                known = ", ".join(repr(name) for name in names)
                yield f"{base}.overrides[{index}].layer", f"unknown layer {override.layer!r}; known: {known}"
