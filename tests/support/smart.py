"""Helpers for the smart-escalation tests: Berlin wall-clock times, the business-hours window, engines on a
manual clock, and what an escalation paged and journalled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import tocsin
from support.escalation import plugins
from tocsin.targets.schedule import ScheduleTarget
from tocsin.targets.team import TeamTarget
from tocsin.targets.user import UserTarget

BERLIN = ZoneInfo("Europe/Berlin")
MICROS = 1_000_000

BUSINESS = tocsin.WorkingHours(
    timezone="Europe/Berlin",
    intervals=(tocsin.WorkingInterval(days=(1, 2, 3, 4, 5), start="09:00", end="17:30"),),
)


def berlin(text: str) -> datetime:
    """``"2026-03-27 23:00"`` on the Berlin wall clock, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def local(instant: datetime) -> str:
    """``instant`` on the Berlin wall clock: ``"Mon 2026-03-30 09:30 CEST"``."""
    return instant.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M %Z")


def micros(instant: datetime) -> int:
    """``instant`` as microseconds since the epoch (the unit of ``WorkingWindow``)."""
    return int(instant.timestamp()) * MICROS + instant.microsecond


def instant(value: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(value // MICROS, UTC) + timedelta(microseconds=value % MICROS)


def window(*intervals: tuple[tuple[int, ...], str, str], timezone: str = "Europe/Berlin") -> tocsin.WorkingWindow:
    """A compiled window from ``(days, start, end)`` intervals."""
    hours = tocsin.WorkingHours(
        timezone=timezone,
        intervals=tuple(tocsin.WorkingInterval(days=days, start=start, end=end) for days, start, end in intervals),
    )
    return tocsin.compile_working_hours("test", hours)


def engine(start: datetime, **options: Any) -> tuple[tocsin.EscalationEngine, tocsin.ManualClock]:
    """An engine on a manual clock at ``start`` with the ``business`` window registered."""
    clock = tocsin.ManualClock(start)
    built = tocsin.EscalationEngine(plugins(), clock=clock, **options)
    built.register_working_hours("business", BUSINESS)
    return built, clock


def user(email: str, **fields: Any) -> UserTarget:
    return UserTarget(email=email, **fields)


def team(team_id: str, **fields: Any) -> TeamTarget:
    return TeamTarget(team_id=team_id, **fields)


def schedule(schedule_id: str, **fields: Any) -> ScheduleTarget:
    return ScheduleTarget(schedule_id=schedule_id, **fields)


def level(delay: int, *targets: Any, **fields: Any) -> tocsin.EscalationLevel:
    return tocsin.EscalationLevel(delay_minutes=delay, targets=tuple(targets), **fields)


def when(*conditions: tuple[str, str, Any], during: str | None = None, outside: str | None = None) -> Any:
    """A level's ``when``: ``(field, operator, value)`` conditions and/or windows."""
    return tocsin.LevelCondition(
        conditions=tuple(tocsin.RuleCondition(field=f, operator=o, value=v) for f, o, v in conditions),
        during=during,
        outside=outside,
    )


def policy(policy_id: str, *levels: tocsin.EscalationLevel, **fields: Any) -> tocsin.EscalationPolicy:
    return tocsin.EscalationPolicy(id=policy_id, levels=tuple(levels), **fields)


def incident(incident_id: str, created: datetime, severity: str = "P1", **fields: Any) -> tocsin.Incident:
    return tocsin.Incident(id=incident_id, title="Checkout errors", severity=severity, created_at=created, **fields)


def minutes_between(start: datetime, end: datetime) -> float:
    value = (end - start) / timedelta(minutes=1)
    return int(value) if value == int(value) else value


def paged(eng: tocsin.EscalationEngine, incident_id: str, start: datetime) -> list[tuple[float, int, int, str]]:
    """(minute fired after ``start``, pass, level, address) of every page of the incident's escalation."""
    state = eng.get_escalation_state(incident_id)
    assert state is not None
    return [
        (
            minutes_between(start, d.notification.fired_at),
            d.notification.pass_number,
            d.notification.level,
            d.notification.recipient.address,
        )
        for d in state.deliveries
        if d.notification.level >= 0
    ]


def journal(eng: tocsin.EscalationEngine, incident_id: str, start: datetime) -> list[tuple[float, str, int | None]]:
    """(minute, kind, level) of every journal entry."""
    state = eng.get_escalation_state(incident_id)
    assert state is not None
    return [(minutes_between(start, e.at), e.kind, e.level) for e in state.events]


def events_of(eng: tocsin.EscalationEngine, incident_id: str, kind: str) -> list[tocsin.EscalationEvent]:
    state = eng.get_escalation_state(incident_id)
    assert state is not None
    return [event for event in state.events if event.kind == kind]
