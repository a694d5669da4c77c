"""Wall-clock time in a time zone: instants to local clock readings and back, with tocsin's DST rules.

Schedules think in *wall-clock seconds*: seconds since 1970-01-01T00:00 on the local clock, as a plain
``int``. Rotations and restriction windows are arithmetic on these numbers; a :class:`Zone` maps them to
instants (UTC seconds) and back. The rules, applied everywhere a wall-clock time becomes an instant:

- a wall-clock time inside a spring-forward gap happens *when the clock jumps* (02:30 on the day New York
  skips 02:00-03:00 happens at 03:00 EDT);
- an ambiguous wall-clock time (the repeated hour when clocks fall back) means its *first* occurrence.

:meth:`Zone.wall` is the exact inverse of those rules: ``instant >= zone.instant(w)`` holds exactly when
``zone.wall(instant) >= w``, for every instant and every wall-clock time. During the repeated hour the
effective reading therefore stays just below the end of that hour (every wall-clock time in it has already
happened once). Because of that equivalence, "is this instant inside that wall-clock window" is a plain
integer comparison, with no special cases at the call site.

Offsets are looked up in per-zone tables of transitions, built lazily from :mod:`zoneinfo` in blocks of about
seven weeks and kept for the life of the process, so a conversion is a dict lookup and a short loop.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import cast

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "WEEK",
    "WEEKDAY_NAMES",
    "UnknownTimeZoneError",
    "Zone",
    "load_zone",
    "parse_weekday",
    "seconds",
    "wall_datetime",
    "wall_seconds",
    "week_position",
    "weekday",
]

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY

# 1970-01-04 was a Sunday: the origin of weeks in wall-clock seconds (days are numbered 0=Sunday … 6=Saturday).
_SUNDAY = 3 * DAY
_WALL_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

WEEKDAY_NAMES: tuple[str, ...] = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAYS = {name.lower(): index for index, name in enumerate(WEEKDAY_NAMES)} | {
    name[:3].lower(): index for index, name in enumerate(WEEKDAY_NAMES)
}


class UnknownTimeZoneError(ValueError):
    """A time zone name that the IANA database (tzdata) does not know."""


def wall_seconds(local: datetime) -> int:
    """Wall-clock seconds of a naive local date-time (fractions of a second are dropped)."""
    return (local.replace(tzinfo=None) - _WALL_EPOCH) // _SECOND


def wall_datetime(wall: int) -> datetime:
    """The naive local date-time that ``wall`` wall-clock seconds stand for."""
    return _WALL_EPOCH + timedelta(seconds=wall)


def weekday(wall: int) -> int:
    """Day of the week of a wall-clock time: 0=Sunday … 6=Saturday."""
    return (wall - _SUNDAY) // DAY % 7


def week_position(wall: int) -> int:
    """Seconds since the most recent Sunday 00:00 on the wall clock (0 <= result < WEEK)."""
    return (wall - _SUNDAY) % WEEK


def parse_weekday(name: str) -> int:
    """``"Monday"``, ``"mon"``, ``"MON"`` -> 1; 0=Sunday … 6=Saturday. ``ValueError`` for anything else."""
    index = _WEEKDAYS.get(name.strip().lower()) if isinstance(name, str) else None
    if index is None:
        raise ValueError(f"expected a day name such as Monday or mon, got {name!r}")
    return index


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@functools.cache
def load_zone(name: str) -> Zone:
    """The :class:`Zone` for an IANA name such as ``America/New_York`` (shared: one per name per process).

    :raises UnknownTimeZoneError: the name is not in the time zone database.
    """
    try:
        tz = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise UnknownTimeZoneError(f"unknown time zone {name!r}{_suggest(str(name))}") from None
    return Zone(name, tz)


# Transition tables are built per block of 2**22 seconds (~48.5 days) plus a margin of two days on either
# side, so a conversion needs only the block its argument falls in. Offsets are sampled every three hours and
# each change is bisected to the second (two transitions less than three hours apart would be missed; no zone
# in the database has such a pair).
_BLOCK_BITS = 22
_MARGIN = 2 * DAY
_STEP = 3 * HOUR
_FIRST = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
_LAST = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())

_Transition = tuple[int, int, int]  # (instant, offset before, offset after), all in seconds
_Block = tuple[int, tuple[_Transition, ...]]  # (offset at the block's start, transitions in order)


class Zone:
    """One time zone's wall clock. Build with :func:`load_zone`; all methods are safe to call from threads."""

    __slots__ = ("_blocks", "_fixed", "name", "tzinfo")

    def __init__(self, name: str, tz: tzinfo) -> None:
        self.name = name
        self.tzinfo = tz
        self._blocks: dict[int, _Block] = {}
        self._fixed: dict[int, timezone] = {}

    def __repr__(self) -> str:
        return f"Zone({self.name!r})"

    # -- the two conversions every schedule lookup makes -------------------------------------------------

    def wall(self, instant: int) -> int:
        """The effective wall-clock reading at ``instant`` (UTC seconds).

        Outside the repeated hour this is simply the local clock. Inside it (the second time the clock shows
        01:xx), it is the last second before that hour ends, because every wall-clock time of the hour has
        already happened once: ``instant >= self.instant(w)`` exactly when ``self.wall(instant) >= w``.
        """
        block = self._blocks.get(instant >> _BLOCK_BITS) or self._block(instant >> _BLOCK_BITS)
        offset = block[0]
        for at, before, after in block[1]:
            if instant < at:
                break
            offset = after
            if instant < at + before - after:  # the clock fell back and is repeating times it showed before
                return at + before - 1
        return instant + offset

    def instant(self, wall: int) -> int:
        """The instant (UTC seconds) at which the wall clock reaches ``wall``.

        A time inside a spring-forward gap happens when the clock jumps; an ambiguous time means its first
        occurrence. Never decreasing: a later wall-clock time never maps to an earlier instant.
        """
        block = self._blocks.get(wall >> _BLOCK_BITS) or self._block(wall >> _BLOCK_BITS)
        offset = block[0]
        jumped_at = None
        for at, before, after in block[1]:
            if at + before > wall:  # the clock has not reached this transition yet
                break
            offset = after
            jumped_at = at
        instant = wall - offset
        if jumped_at is not None and instant < jumped_at:  # inside the gap: it happens at the jump
            return jumped_at
        return instant

    # -- datetimes -----------------------------------------------------------------------------------------

    def resolve(self, moment: datetime) -> int:
        """UTC seconds of ``moment``: an aware datetime as is, a naive one as this zone's wall-clock time."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            return self.instant(wall_seconds(moment))
        return seconds(moment)

    def localize(self, local: datetime) -> datetime:
        """The aware datetime (local time and offset, see :meth:`datetime`) at which the wall clock shows the
        naive ``local``; an aware ``local`` is shown in this zone."""
        return self.datetime(self.resolve(local))

    def offset(self, instant: int) -> int:
        """The zone's UTC offset at ``instant``, in seconds."""
        block = self._blocks.get(instant >> _BLOCK_BITS) or self._block(instant >> _BLOCK_BITS)
        offset = block[0]
        for at, _, after in block[1]:
            if instant < at:
                break
            offset = after
        return offset

    def datetime(self, instant: int) -> datetime:
        """``instant`` (UTC seconds) as an aware datetime showing this zone's local time and offset then.

        Its tzinfo is that fixed offset (not the zone), so the results compare and subtract as the instants
        they are: ``end - start`` of a shift across a DST change is its real length.
        """
        offset = self.offset(instant)
        fixed = self._fixed.get(offset)
        if fixed is None:
            fixed = self._fixed[offset] = timezone(timedelta(seconds=offset))
        return datetime.fromtimestamp(instant, fixed)

    # -- transition tables ---------------------------------------------------------------------------------

    def _offset(self, instant: int) -> int:
        moment = datetime.fromtimestamp(min(max(instant, _FIRST), _LAST), self.tzinfo)
        return cast(timedelta, moment.utcoffset()) // _SECOND  # an aware datetime always has an offset

    def _block(self, key: int) -> _Block:
        low = (key << _BLOCK_BITS) - _MARGIN
        high = ((key + 1) << _BLOCK_BITS) + _MARGIN
        first = current = self._offset(low)
        transitions: list[_Transition] = []
        left = low
        while left < high:
            right = min(left + _STEP, high)
            offset = self._offset(right)
            if offset != current:
                # Bisect to the first second at which the new offset holds.
                lo, hi = left, right
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._offset(mid) == current:
                        lo = mid
                    else:
                        hi = mid
                transitions.append((hi, current, self._offset(hi)))
                current = self._offset(hi)
                if current != offset:  # two changes inside one step: look at the rest of it again
                    left = hi
                    continue
            left = right
        block: _Block = (first, tuple(transitions))
        self._blocks[key] = block
        return block


def seconds(moment: datetime) -> int:
    """UTC seconds of an aware datetime, exactly (fractions of a second are dropped, rounding down)."""
    return (moment - _UTC_EPOCH) // _SECOND
