"""On-call schedules: layers and rotations compiled to wall-clock timelines, who is on call at an instant, the
final shifts over a range, restriction windows, coverage gaps and iCalendar feeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.schedules.answers import Gap, OnCallEntry, Shift
    from tocsin.schedules.resolver import ScheduleError, ScheduleResolver, compile_schedule
    from tocsin.schedules.windows import WeeklyWindows, weekly_windows
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.schedules.answers": ("Gap", "OnCallEntry", "Shift"),
            "tocsin.schedules.resolver": ("ScheduleError", "ScheduleResolver", "compile_schedule"),
            "tocsin.schedules.windows": ("WeeklyWindows", "weekly_windows"),
        },
    )

__all__ = [
    "Gap",
    "OnCallEntry",
    "ScheduleError",
    "ScheduleResolver",
    "Shift",
    "WeeklyWindows",
    "compile_schedule",
    "weekly_windows",
]
