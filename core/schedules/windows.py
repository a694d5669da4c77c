"""Weekly wall-clock windows: when a restricted schedule layer (or anything else with opening hours) is active.

Built from :class:`tocsin.models.TimeRestrictions`: ``days_of_week`` use 0=Sunday … 6=Saturday; a window
runs from ``start_hour:start_minute`` to ``end_hour:end_minute``; ``start == end`` means a whole day (24
hours from the start time); a window whose end is before its start runs overnight and belongs to the day it
starts (Friday 22:00-06:00 is Friday night into Saturday morning). Several windows may be given; overlapping
or touching ones merge, also across the end of the week.

Times are wall-clock seconds (:mod:`tocsin.wallclock`), so membership is arithmetic on one number.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from tocsin.models import TimeRestrictions
from tocsin.wallclock import DAY, HOUR, MINUTE, WEEK, week_position

__all__ = ["WeeklyWindows", "weekly_windows"]

_SUNDAY_OFFSET = -week_position(0)  # wall-clock second 0 was a Thursday; this puts Sunday 00:00 at position 0


def _raw_windows(restrictions: Iterable[TimeRestrictions]) -> list[tuple[int, int]]:
    windows = []
    for r in restrictions:
        start = r.start_hour * HOUR + r.start_minute * MINUTE
        end = r.end_hour * HOUR + r.end_minute * MINUTE
        length = end - start if end > start else DAY - start + end  # equal: a whole day; earlier: overnight
        for day in set(r.days_of_week):
            windows.append((day * DAY + start, day * DAY + start + length))
    return sorted(windows)


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    # Across the end of the week: the last window may run into (or touch) the first one.
    while len(merged) > 1 and merged[-1][1] >= merged[0][0] + WEEK:
        first = merged.pop(0)
        merged[-1] = (merged[-1][0], max(merged[-1][1], first[1] + WEEK))
    return merged


class WeeklyWindows:
    """A set of weekly windows, merged. Positions are seconds since Sunday 00:00; a window may run past the
    end of the week (its end is then above ``WEEK``)."""

    __slots__ = ("_ends", "_starts", "_wrap_end", "windows")

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        self.windows = tuple(windows)
        self._starts = [start for start, _ in windows]
        self._ends = [end for _, end in windows]
        # How far into the week the last window reaches when it started in the week before.
        self._wrap_end = max(windows[-1][1] - WEEK, 0) if windows else 0

    def __repr__(self) -> str:
        return f"WeeklyWindows({list(self.windows)!r})"

    def contains(self, wall: int) -> bool:
        """True when wall-clock time ``wall`` is inside a window."""
        position = (wall - _SUNDAY_OFFSET) % WEEK
        if position < self._wrap_end:
            return True
        index = bisect.bisect_right(self._starts, position) - 1
        return index >= 0 and position < self._ends[index]

    def window_at(self, wall: int) -> tuple[int, int] | None:
        """The wall-clock ``(start, end)`` of the window containing ``wall``, or None."""
        position = (wall - _SUNDAY_OFFSET) % WEEK
        week = wall - position
        if position < self._wrap_end:
            return week - WEEK + self._starts[-1], week - WEEK + self._ends[-1]
        index = bisect.bisect_right(self._starts, position) - 1
        if index >= 0 and position < self._ends[index]:
            return week + self._starts[index], week + self._ends[index]
        return None

    def between(self, low: int, high: int) -> Iterator[tuple[int, int]]:
        """The windows (wall-clock ``(start, end)``, in order, not clipped) that overlap ``[low, high)``."""
        week = low - (low - _SUNDAY_OFFSET) % WEEK - WEEK  # a week early: its last window may run into low
        while week < high:
            for start, end in self.windows:
                if week + end > low and week + start < high:
                    yield week + start, week + end
            week += WEEK


def weekly_windows(restrictions: Iterable[TimeRestrictions]) -> WeeklyWindows | None:
    """The merged windows of ``restrictions``; None when there are none or they cover the whole week (the
    layer is then always active)."""
    merged = _merge(_raw_windows(restrictions))
    if not merged or any(end - start >= WEEK for start, end in merged):
        return None
    return WeeklyWindows(merged)
