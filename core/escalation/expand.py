"""What a target's ``expand(target, ctx)`` is given when a level fires: :class:`ExpandContext`.

A target plugin turns its target into recipients through the context (``ctx.now`` is the firing instant,
``ctx.incident`` the incident being escalated, ``ctx.urgency`` the urgency of the target being expanded):
``ctx.person(address, target=...)`` for a person (their contacts that take ``ctx.urgency`` decide the
channels), ``ctx.oncall(schedule_id)`` for who is on call now,
``ctx.expand(other_target)`` to expand another target (a schedule's fallback), and ``ctx.unresolved`` /
``ctx.fail`` to record that nobody was on call or that a reference did not resolve. Recorded problems go
into the escalation's journal; the level still pages everyone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from tocsin.models import Incident, OnCallSchedule, Recipient, TargetSpec, Urgency, User

if TYPE_CHECKING:
    from tocsin.escalation.executor import TargetExecutor
    from tocsin.schedules.resolver import ScheduleResolver

__all__ = ["ExpandContext"]

UNRESOLVED = "unresolved"
TARGET_FAILED = "target_failed"


class ExpandContext:
    """Everything a target needs to become recipients at one instant."""

    __slots__ = ("_executor", "depth", "incident", "notes", "now", "people", "urgency")

    def __init__(self, executor: TargetExecutor, now: datetime, incident: Incident | None = None) -> None:
        self._executor = executor
        self.depth = 0  # how deeply targets expand other targets (fallbacks); bounded by the executor
        self.now = now  # the instant the level fires (aware, UTC)
        self.incident = incident  # the incident being escalated
        self.notes: list[tuple[str, str]] = []  # (kind, message), kind "unresolved" or "target_failed"
        self.urgency = Urgency.HIGH  # the urgency of the target being expanded (every recipient gets it)
        self.people: list[str] | None = None  # when a list: the addresses ``person`` reached, each once

    @property
    def teams(self) -> Mapping[str, tuple[str, ...]]:
        """Team id -> member addresses."""
        return self._executor.teams

    @property
    def users(self) -> Mapping[str, User]:
        """Address -> how that person is reached."""
        return self._executor.users

    @property
    def schedules(self) -> Mapping[str, OnCallSchedule]:
        """Schedule id -> schedule (its ``fallback`` target, its layers)."""
        return self._executor.schedules

    @property
    def resolvers(self) -> Mapping[str, ScheduleResolver]:
        """Schedule id -> its compiled ``ScheduleResolver`` (``oncall_at``, ``users_at``, ``shifts``)."""
        return self._executor.resolvers

    def oncall(self, schedule_id: str) -> list[str] | None:
        """Who is on call on ``schedule_id`` at ``now`` (possibly nobody); None when no such schedule."""
        resolver = self._executor.resolvers.get(schedule_id)
        if resolver is None:
            return None
        return list(resolver.users_at(self.now))

    def person(self, address: str, *, target: str) -> list[Recipient]:
        """The recipients that reach ``address`` at ``ctx.urgency``: one per contact that takes it, or the
        log channel when the person has no contacts. When no contact takes the urgency, nobody is paged and
        that is recorded as ``unresolved``.

        :param target: the type tag of the target asking (recorded on each recipient).
        """
        found = self._executor.person(address, target, self.urgency)
        if not found:
            self.unresolved(f"{address} has no contact that takes {self.urgency.value}-urgency pages: not paged")
            return []
        people = self.people
        if people is not None and address not in people:
            people.append(address)
        return list(found)

    def expand(self, target: TargetSpec) -> list[Recipient]:
        """Expand another target (e.g. a schedule's fallback) in this same context."""
        return self._executor.expand_target(target, self)

    def unresolved(self, message: str) -> None:
        """Record that a target resolved to nobody (nobody on call), with what was done about it."""
        self.notes.append((UNRESOLVED, message))

    def fail(self, message: str) -> None:
        """Record that a target could not be expanded (an unknown team or schedule)."""
        self.notes.append((TARGET_FAILED, message))
