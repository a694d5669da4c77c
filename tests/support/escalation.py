"""Helpers for the escalation tests: an engine on a manual clock, the guide's policy, and what was paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import tocsin
from support.plugins import builtin_plugins
from tocsin.targets.schedule import ScheduleTarget
from tocsin.targets.team import TeamTarget
from tocsin.targets.user import UserTarget

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
plugins = builtin_plugins


def engine(clock: tocsin.ManualClock | None = None, **options: Any) -> tocsin.EscalationEngine:
    """An engine on a manual clock starting at ``START``, with the built-in plugins."""
    return tocsin.EscalationEngine(plugins(), clock=clock or tocsin.ManualClock(START), **options)


def user(email: str) -> UserTarget:
    return UserTarget(email=email)


def team(team_id: str) -> TeamTarget:
    return TeamTarget(team_id=team_id)


def schedule(schedule_id: str) -> ScheduleTarget:
    return ScheduleTarget(schedule_id=schedule_id)


def level(delay: int, *targets: Any, stop_on_ack: bool = True) -> tocsin.EscalationLevel:
    return tocsin.EscalationLevel(delay_minutes=delay, targets=tuple(targets), stop_on_ack=stop_on_ack)


def policy(policy_id: str, *levels: tocsin.EscalationLevel, **fields: Any) -> tocsin.EscalationPolicy:
    return tocsin.EscalationPolicy(id=policy_id, levels=tuple(levels), **fields)


def guide_policy(policy_id: str = "standard", **fields: Any) -> tocsin.EscalationPolicy:
    """The guide's 3-level policy: 0, 5, 10 minutes; repeat 3 times every 20 minutes."""
    fields.setdefault("repeat", tocsin.RepeatConfig(max_repeats=3, interval_minutes=20))
    return policy(
        policy_id,
        level(0, user("oncall@example.com")),
        level(5, user("lead@example.com")),
        level(10, team("platform")),
        **fields,
    )


def incident(incident_id: str = "inc-1", severity: str = "P1", **fields: Any) -> tocsin.Incident:
    return tocsin.Incident(id=incident_id, title="High CPU", severity=severity, created_at=START, **fields)


def minutes(instant: datetime, start: datetime = START) -> float:
    value = (instant - start) / timedelta(minutes=1)
    return int(value) if value == int(value) else value


def pages(engine: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[tuple[float, int, int, str]]:
    """(minute fired, pass, level, address) of every page of the incident's latest escalation."""
    state = engine.get_escalation_state(incident_id)
    assert state is not None
    return [
        (
            minutes(d.notification.fired_at),
            d.notification.pass_number,
            d.notification.level,
            d.notification.recipient.address,
        )
        for d in state.deliveries
        if d.notification.level >= 0
    ]


def page_times(engine: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[float]:
    """The minute of each page, one entry per recipient."""
    return [minute for minute, *_ in pages(engine, incident_id)]


def kinds(engine: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[str]:
    """The journal's event kinds, in order."""
    state = engine.get_escalation_state(incident_id)
    assert state is not None
    return [event.kind for event in state.events]


def events_of(engine: tocsin.EscalationEngine, kind: str, incident_id: str = "inc-1") -> list[tocsin.EscalationEvent]:
    state = engine.get_escalation_state(incident_id)
    assert state is not None
    return [event for event in state.events if event.kind == kind]


def at(minute: float) -> datetime:
    return START + timedelta(minutes=minute)
