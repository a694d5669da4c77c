"""On-call schedules: layers and rotations compiled to wall-clock timelines, who is on call at an instant, the
final shifts over a range, restriction windows, coverage gaps and iCalendar feeds."""

from __future__ import annotations

from tocsin.schedules.answers import Gap, OnCallEntry, Shift
from tocsin.schedules.resolver import ScheduleError, ScheduleResolver, compile_schedule
from tocsin.schedules.windows import WeeklyWindows, weekly_windows

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
