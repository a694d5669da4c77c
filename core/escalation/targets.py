"""Escalation targets at fire time: the target executor (teams, people and compiled schedules) and the
:class:`ExpandContext` a target's ``expand(target, ctx)`` is given.

The executor is the guide's ``engine.executor()``: ``register_team``, ``register_schedule`` (and
``register_user`` for contacts). Target types are looked up in the registry once, when a policy is compiled;
a level firing calls the bound ``expand`` functions directly and never goes through pluggy.

A target plugin turns its target into recipients through the context (``ctx.now`` is the firing instant,
``ctx.incident`` the incident being escalated, ``ctx.urgency`` the urgency of the target being expanded):
``ctx.person(address, target=...)`` for a person (their contacts that take ``ctx.urgency`` decide the
channels), ``ctx.oncall(schedule_id)`` for who is on call now, ``ctx.expand(other_target)`` to expand another
target (a schedule's fallback), and ``ctx.unresolved`` / ``ctx.fail`` to record that nobody was on call or that
a reference did not resolve. Recorded problems go into the escalation's journal; the level still pages
everyone else.

Urgency: each target's ``urgency`` (``high`` unless it says; a target class without the field is high) is
bound when the level compiles. A person is reached through the contacts that take that urgency (a contact's
``urgencies``, default both), and every recipient a target produces carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from tocsin.delivery.channels import DEFAULT_CHANNEL
from tocsin.models import (
    ALL_URGENCIES,
    ContactSpec,
    Incident,
    OnCallSchedule,
    Override,
    Recipient,
    TargetSpec,
    Urgency,
    User,
)
from tocsin.registry import Registry
from tocsin.schedules.resolver import ScheduleResolver, compile_schedule

__all__ = ["CompiledLevel", "ExpandContext", "OverrideSource", "TargetExecutor"]

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
        """Schedule id -> its compiled ``ScheduleResolver`` (``oncall_at``, ``users_at``, ``shifts``) as the
        config has it; :meth:`oncall` also counts the overrides made at run time."""
        return self._executor.resolvers

    def oncall(self, schedule_id: str) -> list[str] | None:
        """Who is on call on ``schedule_id`` at ``now`` (possibly nobody), overrides made at run time included;
        None when no such schedule."""
        resolver = self._executor.resolver_at(schedule_id, self.now)
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


Expand = Callable[[Any, ExpandContext], Iterable[Recipient]]
# (schedule id, instant) -> the overrides made at run time that are in force then (see tocsin.escalation.overrides)
OverrideSource = Callable[[str, datetime], Sequence[Override]]
CompiledLevel = tuple[tuple[Expand, TargetSpec, Urgency], ...]  # each target with its expand and urgency bound
_MAX_DEPTH = 8  # fallbacks of fallbacks: deeper than this is a cycle
_HIGH = Urgency.HIGH


class TargetExecutor:
    """Expands targets into recipients against the registered teams, people and schedules."""

    def __init__(self, registry: Registry, *, default_channel: str = DEFAULT_CHANNEL) -> None:
        self._registry = registry
        self._default_channel = default_channel
        self.teams: dict[str, tuple[str, ...]] = {}
        self.users: dict[str, User] = {}
        self.schedules: dict[str, OnCallSchedule] = {}
        self.resolvers: dict[str, ScheduleResolver] = {}  # schedule id -> compiled resolver
        # (address, target type) -> recipients, one cache per urgency (an enum in the key would cost a
        # Python-level __hash__ per lookup)
        self._people: dict[tuple[str, str], tuple[Recipient, ...]] = {}
        self._people_low: dict[tuple[str, str], tuple[Recipient, ...]] = {}
        self._overrides: OverrideSource | None = None

    # --- registration (the guide's executor API) ----------------------------------------------------------

    def register_team(self, team_id: str, members: Iterable[str]) -> None:
        """Register (or replace) team ``team_id``; a team target pages every member."""
        members = tuple(members)
        if isinstance(members, str) or not all(isinstance(m, str) for m in members):
            raise TypeError(f"team {team_id!r}: members must be a list of addresses, got {members!r}")
        self.teams[team_id] = members

    def register_user(self, address: str, user: User | None = None, *, contacts: Sequence[ContactSpec] = ()) -> None:
        """Say how ``address`` is reached: a ``User`` or its ``contacts`` (none: the log channel)."""
        self.users[address] = user if user is not None else User(contacts=tuple(contacts))
        self._people.clear()
        self._people_low.clear()

    def register_schedule(self, schedule: OnCallSchedule) -> None:
        """Compile and register ``schedule``; a schedule target pages whoever it says is on call."""
        self.resolvers[schedule.id] = compile_schedule(schedule, self._registry)
        self.schedules[schedule.id] = schedule

    def use_overrides(self, source: OverrideSource | None) -> None:
        """Count the overrides ``source`` says are in force whenever a level asks who is on call (the server
        hands in the store's run-time overrides); None: only the config's."""
        self._overrides = source

    def resolver_at(self, schedule_id: str, at: datetime) -> ScheduleResolver | None:
        """The schedule's resolver with the run-time overrides in force at ``at``; None when no such schedule."""
        resolver = self.resolvers.get(schedule_id)
        if resolver is None or self._overrides is None:
            return resolver
        return resolver.with_overrides(self._overrides(schedule_id, at))

    def replace(self, other: TargetExecutor) -> None:
        """Take ``other``'s teams, people and schedules as they are, at once (a config reload: levels that
        fire from now on expand against them). The run-time override source stays."""
        self.teams, self.users = other.teams, other.users
        self.schedules, self.resolvers = other.schedules, other.resolvers
        self._people, self._people_low = other._people, other._people_low

    def load(
        self,
        teams: Mapping[str, Iterable[str]],
        users: Mapping[str, User],
        schedules: Iterable[OnCallSchedule],
    ) -> None:
        """Register every team, user and schedule of a config's sections."""
        for team_id, members in teams.items():
            self.register_team(team_id, members)
        for address, user in users.items():
            self.register_user(address, user)
        for schedule in schedules:
            self.register_schedule(schedule)

    # --- compile and fire ------------------------------------------------------------------------------

    def compile(self, targets: Sequence[TargetSpec]) -> CompiledLevel:
        """Bind each target to its type's ``expand`` and its urgency; an unregistered type raises
        ``UnknownNameError``."""
        return tuple(
            (self._registry.targets.get(target.type).expand, target, Urgency(getattr(target, "urgency", Urgency.HIGH)))
            for target in targets
        )

    def fire(
        self,
        level: CompiledLevel,
        now: datetime,
        incident: Incident | None = None,
        *,
        people: list[str] | None = None,
    ) -> tuple[list[Recipient], list[tuple[str, str]]]:
        """The recipients of one level at ``now``, each contact once (a person reached by two targets is paged
        once per contact; two contacts on one channel are two recipients), and any recorded problems.

        :param people: a list to fill with the addresses of the people the level reached (through
            ``ctx.person``), each once, in order: who can acknowledge the page.
        """
        ctx = ExpandContext(self, now, incident)
        if people is not None:
            ctx.people = people
        seen: set[tuple[str, str, int]] = set()
        recipients: list[Recipient] = []
        for expand, target, urgency in level:
            ctx.urgency = urgency
            low = urgency is not _HIGH  # a recipient built without an urgency is high: only low needs stamping
            for recipient in self._run(expand, target, ctx):
                mark = (recipient.channel, recipient.address, recipient.contact_number)
                if mark not in seen:
                    seen.add(mark)
                    if low and recipient.urgency is not urgency:
                        recipient = attrs.evolve(recipient, urgency=urgency)
                    recipients.append(recipient)
        return recipients, ctx.notes

    def expand_target(self, target: TargetSpec, ctx: ExpandContext) -> list[Recipient]:
        """Expand one target in ``ctx`` (used by targets that expand others, like a schedule's fallback)."""
        if ctx.depth >= _MAX_DEPTH:
            ctx.fail(f"{target.type} target: fallbacks nest more than {_MAX_DEPTH} deep (a cycle?); not expanded")
            return []
        try:
            expand = self._registry.targets.get(target.type).expand
        except LookupError as exc:
            ctx.fail(str(exc))
            return []
        ctx.depth += 1
        try:
            return self._run(expand, target, ctx)
        finally:
            ctx.depth -= 1

    def _run(self, expand: Expand, target: TargetSpec, ctx: ExpandContext) -> list[Recipient]:
        try:
            return list(expand(target, ctx))
        except Exception as exc:  # a broken target plugin must not stop the level
            ctx.fail(f"{target.type} target raised {type(exc).__name__}: {exc}")
            return []

    def person(self, address: str, target: str, urgency: Urgency = Urgency.HIGH) -> tuple[Recipient, ...]:
        """The recipients reaching ``address`` at ``urgency``: one per contact that takes it (the default
        channel when the person has no contacts; none when no contact takes that urgency)."""
        cache = self._people if urgency is _HIGH else self._people_low
        key = (address, target)
        cached = cache.get(key)
        if cached is not None:
            return cached
        user = self.users.get(address)
        if user is None or not user.contacts:
            found: tuple[Recipient, ...] = (
                Recipient(address=address, channel=self._default_channel, target=target, urgency=urgency),
            )
        else:
            per_channel: dict[str, int] = {}
            reached = []
            for contact in user.contacts:
                if urgency not in getattr(contact, "urgencies", ALL_URGENCIES):
                    continue
                number = per_channel[contact.type] = per_channel.get(contact.type, -1) + 1
                reached.append(
                    Recipient(
                        address=address,
                        channel=contact.type,
                        target=target,
                        contact=contact,
                        urgency=urgency,
                        contact_number=number,
                    )
                )
            found = tuple(reached)
        cache[key] = found
        return found
