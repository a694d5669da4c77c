"""Follow-the-sun rotation: regions hand the pager to each other every day, each region's users taking turns.

``{type: follow_the_sun, rotate_days: 7, regions: [{name: emea, handoff_hour: 8, users: [...]}, ...]}``: each
region holds the pager from its handoff time until the next region's, every day; within a region the users take
turns, one for every ``rotate_days`` of that region's windows, counted from the layer's start. The rotation
chooses who holds each shift itself (its layer lists no users), by arithmetic like every rotation: a lookup ten
years on costs what one on the first day does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

import tocsin
from tocsin import FieldError, RotationRegistrar
from tocsin.rotation import DailyWindows, Rotation, Shifts, TimesOfDay, between, positive
from tocsin.validators import non_empty
from tocsin.wallclock import HOUR, MINUTE


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

    def chooses_from(self) -> tuple[str, ...]:
        """Everyone the rotation may put on call: the users of every region (whom a run-time override, a swap or
        a reassignment may then name)."""
        return tuple(user for region in self.regions for user in region.users)


@attrs.frozen
class _Shifts:
    """The day's windows (:class:`DailyWindows`), and who holds each: the region of its time of day, and in it
    the user whose turn it is. Turns change every ``rotate_days`` of the region's windows, counted from
    ``first``, the first window that begins at or after the layer's start."""

    windows: DailyWindows
    first: int
    users: tuple[tuple[str, ...], ...]  # by time of day
    rotate_days: int

    def index(self, wall: int) -> int:
        return self.windows.index(wall)

    def handoff(self, index: int) -> int:
        return self.windows.handoff(index)

    def holder(self, index: int) -> str:
        window = self.windows.window(index)
        # Every region has exactly one window among any len(users) consecutive ones.
        turn = max(window - self.first, 0) // (len(self.users) * self.rotate_days)
        users = self.users[window % len(self.users)]
        return users[turn % len(users)]


@attrs.frozen
class _FollowTheSun:
    times: TimesOfDay
    users: tuple[tuple[str, ...], ...]
    rotate_days: int

    def first_handoff(self, at_or_after: int) -> int:
        return self.times.first_handoff(at_or_after)

    def anchor(self, start: int) -> Shifts:
        windows = self.times.anchor(start)
        first = windows.base if self.times.begins(windows.base) == start else windows.base + 1
        return _Shifts(windows, first, self.users, self.rotate_days)


def compile_follow_the_sun(settings: FollowTheSunRotation) -> Rotation:
    """The regions in the order of their handoffs through the day."""
    regions = sorted(settings.regions, key=lambda region: region.handoff)
    times = TimesOfDay(tuple(region.handoff for region in regions))
    return _FollowTheSun(times, tuple(region.users for region in regions), settings.rotate_days)


@tocsin.hookimpl
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register the ``follow_the_sun`` rotation."""
    register(FollowTheSunRotation, compile=compile_follow_the_sun)
