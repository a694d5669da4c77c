"""Daily rotation: the next user takes over every day at ``handoff_hour:handoff_minute`` local time."""

from __future__ import annotations

from typing import ClassVar

import attrs

import tocsin
from tocsin import RotationRegistrar
from tocsin.rotation import PeriodicRotation, Rotation, between
from tocsin.wallclock import DAY, HOUR, MINUTE


@attrs.frozen(kw_only=True)
class DailyRotation:
    """``{type: daily, handoff_hour: 9}``: one shift per day, handing off at 09:00 on the schedule's clock."""

    type: ClassVar[str] = "daily"
    handoff_hour: int = attrs.field(validator=between(0, 23))
    handoff_minute: int = attrs.field(default=0, validator=between(0, 59))


def compile_daily(settings: DailyRotation) -> Rotation:
    """Handoffs every 24 wall-clock hours at the handoff time of day."""
    return PeriodicRotation(DAY, settings.handoff_hour * HOUR + settings.handoff_minute * MINUTE)


@tocsin.hookimpl
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register the ``daily`` rotation."""
    register(DailyRotation, compile=compile_daily)
