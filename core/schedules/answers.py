"""What a schedule answers: who is on call at an instant, the final shifts over a range, and the gaps."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

__all__ = ["Gap", "OnCallEntry", "Shift"]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# The answers are named tuples: immutable and typed like the models, and several times cheaper to build than a
# frozen attrs class, which matters on the lookup path.


class OnCallEntry(NamedTuple):
    """One person on call at an instant: the layer they are on call for and the span of that shift.

    ``shift_start``/``shift_end`` are the layer's shift as this user holds it: the rotation shift limited to
    the restriction window in effect and cut where an override of the layer begins or ends (for an override,
    the override's window, limited to the layer's window).

    Times are aware datetimes showing the schedule's local time with the UTC offset in force then (a fixed
    offset), so they compare and subtract as instants: a shift across a DST change has its real length.
    """

    user: str
    layer: str
    shift_start: datetime
    shift_end: datetime

    def as_dict(self) -> dict[str, str]:
        """``{"user", "layer", "shift_start", "shift_end"}`` with ISO 8601 times (with offset)."""
        return {
            "user": self.user,
            "layer": self.layer,
            "shift_start": _iso(self.shift_start),
            "shift_end": _iso(self.shift_end),
        }


class Shift(NamedTuple):
    """A stretch of the final schedule during which ``user`` is on call for ``layer`` (adjacent stretches of
    the same user and layer are merged; restrictions, resolution and overrides are applied)."""

    user: str
    layer: str
    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        """``{"user", "layer", "start", "end"}`` with ISO 8601 times (with offset)."""
        return {"user": self.user, "layer": self.layer, "start": _iso(self.start), "end": _iso(self.end)}


class Gap(NamedTuple):
    """A stretch with nobody on call."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        """``{"start", "end"}`` with ISO 8601 times (with offset)."""
        return {"start": _iso(self.start), "end": _iso(self.end)}
