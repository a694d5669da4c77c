"""What a rotation strategy compiles to, and the periodic rotation the built-in strategies share.

A rotation plugin registers a settings class and ``compile(settings) -> Rotation``. A :class:`Rotation` knows
nothing about time zones: it places handoffs on the *wall clock* (see :mod:`tocsin.wallclock`; times are
``int`` wall-clock seconds) and the schedule resolver turns them into instants with the DST rules. Anchored
at a layer's start it becomes :class:`Handoffs`, which answers "which shift holds this wall-clock time" by
arithmetic: the cost must not grow with the distance from the layer's start.

Shift 0 begins at the layer's start; shift ``k`` (k >= 1) begins at ``handoff(k)``. When the start is not
itself a handoff time, shift 0 runs from the start to the first handoff after it.

Who holds shift ``k`` is the layer's ``users[k mod n]``, unless the anchored handoffs are :class:`Shifts`: a
rotation that chooses who (a user list per region, the least recently on call, a weighted turn) answers
``holder(k)`` itself, from lists it keeps in its own settings, and its layer lists no users.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Protocol, runtime_checkable

import attrs

from tocsin.validators import between, positive
from tocsin.wallclock import DAY

__all__ = [
    "DailyWindows",
    "Handoffs",
    "PeriodicRotation",
    "Rotation",
    "Shifts",
    "TimesOfDay",
    "between",
    "positive",
]


@runtime_checkable
class Handoffs(Protocol):
    """A layer's shifts on the wall clock, counted from the layer's start."""

    def index(self, wall: int) -> int:
        """The shift that holds wall-clock time ``wall`` (never before the layer's start): the largest ``k``
        with ``handoff(k) <= wall``. Must be arithmetic, not a walk from the start."""
        ...

    def handoff(self, index: int) -> int:
        """The wall-clock time at which shift ``index`` begins; ``handoff(0)`` is the layer's start.
        Strictly increasing in ``index``."""
        ...


@runtime_checkable
class Shifts(Handoffs, Protocol):
    """Handoffs that also say who holds each shift: what a rotation that chooses who anchors to."""

    def holder(self, index: int) -> str:
        """The user who holds shift ``index`` (``index >= 0``). Must be arithmetic, as :meth:`index` is."""
        ...


@runtime_checkable
class Rotation(Protocol):
    """A compiled rotation strategy: where its handoffs fall on the wall clock."""

    def first_handoff(self, at_or_after: int) -> int:
        """The first handoff time at or after ``at_or_after``; a layer without ``start`` starts at the first
        handoff at or after 2020-01-01T00:00 local time."""
        ...

    def anchor(self, start: int) -> Handoffs:
        """The shifts of a layer whose shift 0 begins at wall-clock time ``start``: :class:`Shifts` when the
        rotation chooses who holds them."""
        ...


@attrs.frozen
class _PeriodicHandoffs:
    start: int
    base: int  # the handoff time at or before start; shift k >= 1 begins at base + k * period
    period: int

    def index(self, wall: int) -> int:
        return (wall - self.base) // self.period

    def handoff(self, index: int) -> int:
        return self.start if index <= 0 else self.base + index * self.period


@attrs.frozen
class PeriodicRotation:
    """Handoffs every ``period`` wall-clock seconds.

    With ``phase`` set, handoffs fall at ``phase + j * period`` for every integer ``j`` (a daily rotation
    at 09:00 has ``period=DAY, phase=9 * HOUR``), wherever the layer starts. Without it, handoffs are counted
    from the layer's start (a custom 12-hour rotation hands off 12, 24, … wall-clock hours after it).
    """

    period: int
    phase: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.period <= 0:
            raise ValueError(f"a rotation period must be positive, got {self.period} seconds")

    def first_handoff(self, at_or_after: int) -> int:
        """The first handoff at or after ``at_or_after`` (that time itself when handoffs follow the start)."""
        if self.phase is None:
            return at_or_after
        return at_or_after + (self.phase - at_or_after) % self.period

    def anchor(self, start: int) -> Handoffs:
        """The shifts of a layer starting at ``start``: shift 0 ends at the first handoff after it."""
        if self.phase is None:
            return _PeriodicHandoffs(start, start, self.period)
        return _PeriodicHandoffs(start, start - (start - self.phase) % self.period, self.period)


@attrs.frozen
class DailyWindows:
    """A layer's shifts under :class:`TimesOfDay`: shift ``k`` is window ``base + k`` (shift 0 begins at the
    layer's ``start``, inside window ``base``). :meth:`window` tells a rotation that chooses who which window,
    and so which time of day (``window % len(times)``) and which day (``window // len(times)``), a shift is."""

    start: int
    base: int
    times: TimesOfDay

    def index(self, wall: int) -> int:
        """The shift holding ``wall``."""
        return self.times.window(wall) - self.base

    def handoff(self, index: int) -> int:
        """Where shift ``index`` begins."""
        return self.start if index <= 0 else self.times.begins(self.base + index)

    def window(self, index: int) -> int:
        """The window shift ``index`` is (shift 0: the window the layer starts in)."""
        return self.base + max(index, 0)


@attrs.frozen
class TimesOfDay:
    """Handoffs at several times of every day: ``seconds`` into the day, strictly increasing, each in
    ``[0, DAY)``. Window ``w`` begins ``w // n`` days after wall-clock second 0, at ``seconds[w % n]``; it is
    the ``n`` windows of each day, numbered in a row, that a follow-the-sun rotation hands around."""

    seconds: tuple[int, ...]

    def __attrs_post_init__(self) -> None:
        if not self.seconds or not all(0 <= a < b for a, b in itertools.pairwise((*self.seconds, DAY))):
            raise ValueError(f"times of day must be increasing seconds in [0, {DAY}), got {self.seconds}")

    def window(self, wall: int) -> int:
        """The window that holds wall-clock time ``wall``."""
        days, into = divmod(wall, DAY)
        slot = bisect.bisect_right(self.seconds, into) - 1
        if slot < 0:  # before the day's first handoff: the last window of the day before
            days, slot = days - 1, len(self.seconds) - 1
        return days * len(self.seconds) + slot

    def begins(self, window: int) -> int:
        """The wall-clock time at which ``window`` begins."""
        days, slot = divmod(window, len(self.seconds))
        return days * DAY + self.seconds[slot]

    def first_handoff(self, at_or_after: int) -> int:
        """The first handoff at or after ``at_or_after``."""
        window = self.window(at_or_after)
        begins = self.begins(window)
        return begins if begins == at_or_after else self.begins(window + 1)

    def anchor(self, start: int) -> DailyWindows:
        """The shifts of a layer starting at ``start``."""
        return DailyWindows(start, self.window(start), self)
