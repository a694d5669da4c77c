"""Weekly rotation: the next user takes over once a week, on ``handoff_day`` at ``handoff_hour:handoff_minute``."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

import tocsin
from tocsin import RotationRegistrar
from tocsin.rotation import PeriodicRotation, Rotation, between
from tocsin.wallclock import DAY, HOUR, MINUTE, WEEK, parse_weekday, week_position


def _day_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        parse_weekday(value)
    except ValueError as exc:
        raise tocsin.FieldError(attribute.name, str(exc)) from None


@attrs.frozen(kw_only=True)
class WeeklyRotation:
    """``{type: weekly, handoff_day: Monday, handoff_hour: 9}``. The day is a full or three-letter English
    name in any case (``Monday``, ``mon``, ``MON``)."""

    type: ClassVar[str] = "weekly"
    handoff_day: str = attrs.field(validator=_day_name)
    handoff_hour: int = attrs.field(validator=between(0, 23))
    handoff_minute: int = attrs.field(default=0, validator=between(0, 59))


def compile_weekly(settings: WeeklyRotation) -> Rotation:
    """Handoffs every 7 wall-clock days at the handoff day and time."""
    into_week = parse_weekday(settings.handoff_day) * DAY + settings.handoff_hour * HOUR
    into_week += settings.handoff_minute * MINUTE
    # The phase is the wall-clock second of one handoff: the week position measured from wall second 0.
    return PeriodicRotation(WEEK, (into_week - week_position(0)) % WEEK)


@tocsin.hookimpl
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register the ``weekly`` rotation."""
    register(WeeklyRotation, compile=compile_weekly)
