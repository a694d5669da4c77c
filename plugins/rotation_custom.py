"""Custom-length rotations: a handoff every ``duration_hours`` wall-clock hours after the layer's start,
and ``hourly``, the one-hour case."""

from __future__ import annotations

from typing import ClassVar

import attrs

import tocsin
from tocsin import RotationRegistrar
from tocsin.rotation import PeriodicRotation, Rotation, positive
from tocsin.wallclock import HOUR


@attrs.frozen(kw_only=True)
class CustomRotation:
    """``{type: custom, duration_hours: 12}``: shifts of 12 wall-clock hours, counted from the layer's start.

    Wall-clock hours: on the day clocks spring forward, a shift that spans the jump is an hour shorter in
    real time, and one that falls back is an hour longer, so handoffs stay at the same local times.
    """

    type: ClassVar[str] = "custom"
    duration_hours: int = attrs.field(validator=positive)


@attrs.frozen(kw_only=True)
class HourlyRotation:
    """``{type: hourly}``: one-hour shifts counted from the layer's start (``custom`` with one hour)."""

    type: ClassVar[str] = "hourly"


def compile_custom(settings: CustomRotation) -> Rotation:
    """Handoffs every ``duration_hours`` wall-clock hours from the layer's start."""
    return PeriodicRotation(settings.duration_hours * HOUR)


def compile_hourly(settings: HourlyRotation) -> Rotation:
    """Handoffs every wall-clock hour from the layer's start."""
    return PeriodicRotation(HOUR)


@tocsin.hookimpl
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register the ``custom`` and ``hourly`` rotations."""
    register(CustomRotation, compile=compile_custom)
    register(HourlyRotation, compile=compile_hourly)
