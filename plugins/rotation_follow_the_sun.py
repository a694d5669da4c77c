"""Follow-the-sun rotation: regions hand the pager to each other every day, each region's users taking turns.

``{type: follow_the_sun, rotate_days: 7, regions: [{name: emea, handoff_hour: 8, users: [...]}, ...]}``: each
region holds the pager from its handoff time until the next region's, every day; within a region the users take
turns, one for every ``rotate_days`` days counted from the layer's start. The rotation chooses who holds each
shift itself (its layer lists no users), by arithmetic like every rotation: a lookup ten years on costs what
one on the first day does.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

import attrs

import tocsin
from tocsin import FieldError, RotationRegistrar
from tocsin.rotation import Rotation, Shifts, between, positive
from tocsin.validators import non_empty
from tocsin.wallclock import DAY, HOUR, MINUTE


@attrs.frozen(kw_only=True)
class Region:
    """One region: its ``users`` take turns holding the pager from ``handoff_hour:handoff_minute`` (on the
    schedule's clock) until the next region's handoff."""

    name: str
    users: tuple[str, ...] = attrs.field(validator=non_empty)
    handoff_hour: int = attrs.field(validator=between(0, 23))
    handoff_minute: int = attrs.field(default=0, validator=between(0, 59))

    @property
    def handoff(self) -> int:
        """Seconds into the day at which this region takes over."""
        return self.handoff_hour * HOUR + self.handoff_minute * MINUTE


def _distinct(instance: Any, attribute: attrs.Attribute[Any], regions: tuple[Region, ...]) -> None:
    names: dict[str, int] = {}
    times: dict[int, int] = {}
    for index, region in enumerate(regions):
        if region.name in names:
            raise FieldError(f"regions[{index}].name", f"duplicate region {region.name!r}")
        if region.handoff in times:
            other = regions[times[region.handoff]].name
            raise FieldError(f"regions[{index}].handoff_hour", f"{other!r} hands over at the same time")
        names[region.name] = index
        times[region.handoff] = index


@attrs.frozen(kw_only=True)
class FollowTheSunRotation:
    """``{type: follow_the_sun, regions: [...], rotate_days: 7}``: at least one region."""

    type: ClassVar[str] = "follow_the_sun"
    regions: tuple[Region, ...] = attrs.field(validator=[non_empty, _distinct])
    rotate_days: int = attrs.field(default=7, validator=positive)


@attrs.frozen
class _Shifts:
    """A layer's shifts: shift ``k`` is window ``base + k``, windows being numbered ``days * len(regions) +
    slot`` (the regions in the order of their handoffs through the day); shift 0 begins at the layer's start.
    A region's users take turns every ``rotate_days`` of its windows, counted from ``first``, the first window
    that begins at or after the start."""

    start: int
    base: int
    first: int
    times: tuple[int, ...]
    users: tuple[tuple[str, ...], ...]  # by slot
    rotate_days: int

    def index(self, wall: int) -> int:
        return _window(self.times, wall) - self.base

    def handoff(self, index: int) -> int:
        return self.start if index <= 0 else _begins(self.times, self.base + index)

    def holder(self, index: int) -> str:
        window = self.base + max(index, 0)
        # Every region has exactly one window among any len(times) consecutive ones.
        turn = max(window - self.first, 0) // (len(self.times) * self.rotate_days)
        users = self.users[window % len(self.times)]
        return users[turn % len(users)]


def _window(times: tuple[int, ...], wall: int) -> int:
    """The number of the window that holds wall-clock time ``wall``."""
    days, into = divmod(wall, DAY)
    slot = bisect.bisect_right(times, into) - 1
    if slot < 0:  # before the day's first handoff: the last window of the day before
        days, slot = days - 1, len(times) - 1
    return days * len(times) + slot


def _begins(times: tuple[int, ...], window: int) -> int:
    days, slot = divmod(window, len(times))
    return days * DAY + times[slot]


@attrs.frozen
class _FollowTheSun:
    times: tuple[int, ...]
    users: tuple[tuple[str, ...], ...]
    rotate_days: int

    def first_handoff(self, at_or_after: int) -> int:
        window = _window(self.times, at_or_after)
        begins = _begins(self.times, window)
        return begins if begins == at_or_after else _begins(self.times, window + 1)

    def anchor(self, start: int) -> Shifts:
        base = _window(self.times, start)
        first = base if _begins(self.times, base) == start else base + 1
        return _Shifts(start, base, first, self.times, self.users, self.rotate_days)


def compile_follow_the_sun(settings: FollowTheSunRotation) -> Rotation:
    """The regions in the order of their handoffs through the day."""
    regions = sorted(settings.regions, key=lambda region: region.handoff)
    return _FollowTheSun(
        tuple(region.handoff for region in regions), tuple(region.users for region in regions), settings.rotate_days
    )


@tocsin.hookimpl
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register the ``follow_the_sun`` rotation."""
    register(FollowTheSunRotation, compile=compile_follow_the_sun)
