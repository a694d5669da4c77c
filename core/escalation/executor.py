"""The target executor: teams, people and compiled schedules, and the expansion of a level into recipients.

This is the guide's ``engine.executor()``: ``register_team``, ``register_schedule`` (and ``register_user``
for contacts). Target types are looked up in the registry once, when a policy is compiled; a level firing
calls the bound ``expand`` functions directly and never goes through pluggy.

Urgency: each target's ``urgency`` (``high`` unless it says; a target class without the field is high) is
bound when the level compiles. A person is reached through the contacts that take that urgency (a contact's
``urgencies``, default both), and every recipient a target produces carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from tocsin.delivery.channels import DEFAULT_CHANNEL
from tocsin.escalation.expand import ExpandContext
from tocsin.models import ALL_URGENCIES, ContactSpec, Incident, OnCallSchedule, Recipient, TargetSpec, Urgency, User
from tocsin.registry import Registry
from tocsin.schedules.resolver import ScheduleResolver, compile_schedule

if TYPE_CHECKING:
    from tocsin.config.loader import Config

__all__ = ["CompiledLevel", "TargetExecutor"]

Expand = Callable[[Any, ExpandContext], Iterable[Recipient]]
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

    def load(self, config: Config) -> None:
        """Register every team, user and schedule of ``config``."""
        for team_id, members in config.teams.items():
            self.register_team(team_id, members)
        for address, user in config.users.items():
            self.register_user(address, user)
        for schedule in config.schedules:
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
        """The recipients of one level at ``now``, each (channel, address) once, and any recorded problems.

        :param people: a list to fill with the addresses of the people the level reached (through
            ``ctx.person``), each once, in order: who can acknowledge the page.
        """
        ctx = ExpandContext(self, now, incident)
        if people is not None:
            ctx.people = people
        seen: set[tuple[str, str]] = set()
        recipients: list[Recipient] = []
        for expand, target, urgency in level:
            ctx.urgency = urgency
            low = urgency is not _HIGH  # a recipient built without an urgency is high: only low needs stamping
            for recipient in self._run(expand, target, ctx):
                mark = (recipient.channel, recipient.address)
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
            found = (Recipient(address=address, channel=self._default_channel, target=target, urgency=urgency),)
        else:
            found = tuple(
                Recipient(address=address, channel=contact.type, target=target, contact=contact, urgency=urgency)
                for contact in user.contacts
                if urgency in getattr(contact, "urgencies", ALL_URGENCIES)
            )
        cache[key] = found
        return found
