"""Policy lint: what loads cleanly but cannot work as meant (``tocsin check --strict``).

A config that loads is well formed; these findings are about what it will do: a level whose ``when`` can never
hold, a level or policy that can page nobody, a policy no incident can reach by its severity, rules no incident
can reach after a catch-all ``stop`` rule, a ``use_policy`` naming a disabled policy, an override that lies
wholly inside a DST gap, and the coverage gaps over the next weeks of each schedule without a ``fallback`` that can
page someone (a fallback that can is paged in a gap, as its author chose). Each finding names its
JSONPath, a severity (``error``: it cannot work; ``warning``: it works, maybe not as meant) and a stable code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Literal

import attrs

from tocsin.config.model import Config
from tocsin.escalation.targets import TargetExecutor
from tocsin.models import (
    EscalationLevel,
    EscalationPolicy,
    IncidentState,
    IncidentType,
    OnCallSchedule,
    RoutingRule,
    RuleCondition,
    Severity,
    TargetSpec,
    Urgency,
)
from tocsin.registry import Registry
from tocsin.schedules.resolver import ScheduleResolver

__all__ = ["DEFAULT_WEEKS", "Finding", "lint_config"]

DEFAULT_WEEKS = 4
FindingSeverity = Literal["error", "warning"]

# Fields every incident has: ``exists`` on one of them is always true.
_ALWAYS_PRESENT = frozenset(
    {"id", "source", "title", "description", "severity", "state", "incident_type", "priority_score", "assignees"}
)
_ALL_VALUES: dict[str, frozenset[str]] = {
    "severity": frozenset(member.value for member in Severity),
    "incident_type": frozenset(member.value for member in IncidentType),
    "state": frozenset(member.value for member in IncidentState),
}


@attrs.frozen(kw_only=True)
class Finding:
    """One lint finding: where (``$.path``), how bad (``error`` or ``warning``), a stable code, and what."""

    path: str
    severity: FindingSeverity
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        """``{"path", "severity", "code", "message"}``."""
        return {"path": self.path, "severity": self.severity, "code": self.code, "message": self.message}


def lint_config(config: Config, registry: Registry, *, now: datetime, weeks: int = DEFAULT_WEEKS) -> list[Finding]:
    """Every finding for a config that loaded cleanly, looking ``weeks`` ahead of ``now`` for schedules."""
    executor = TargetExecutor(registry)
    executor.load(config.teams, config.users, config.schedules)
    lint = _Lint(config, executor, now, now + timedelta(weeks=weeks), weeks)
    return [
        *lint.levels(),
        *lint.shadowed_policies(),
        *lint.rules_after_catch_all(),
        *lint.disabled_use_policy(),
        *lint.schedules(),
    ]


class _Lint:
    def __init__(self, config: Config, executor: TargetExecutor, start: datetime, end: datetime, weeks: int) -> None:
        self.config = config
        self.executor = executor
        self.start, self.end, self.weeks = start, end, weeks
        self.resolvers: dict[str, ScheduleResolver] = executor.resolvers

    # --- policies and levels ---------------------------------------------------------------------------

    def levels(self) -> Iterator[Finding]:
        for p, policy in enumerate(self.config.policies):
            silent = 0
            for lv, level in enumerate(policy.levels):
                path = f"$.policies[{p}].levels[{lv}]"
                when = level.when
                if when is not None and when.during is not None and when.during == when.outside:
                    yield Finding(
                        path=f"{path}.when",
                        severity="error",
                        code="when-never-true",
                        message=f"'during: {when.during}' and 'outside: {when.outside}' can never both hold: "
                        "the level never runs",
                    )
                found = list(self._level_faults(level, path))
                yield from found
                if len(found) == len(level.targets):
                    silent += 1
            if silent == len(policy.levels):
                yield Finding(
                    path=f"$.policies[{p}]",
                    severity="error",
                    code="policy-pages-nobody",
                    message=f"policy {policy.id!r} can page nobody: none of its levels reaches anyone",
                )

    def _level_faults(self, level: EscalationLevel, path: str) -> Iterator[Finding]:
        """One finding per target of ``level`` that can page nobody."""
        for t, target in enumerate(level.targets):
            reason = self._pages_nobody(target)
            if reason is not None:
                yield Finding(path=f"{path}.targets[{t}]", severity="error", code="pages-nobody", message=reason)

    def _pages_nobody(self, target: TargetSpec, seen: frozenset[str] = frozenset()) -> str | None:
        """Why ``target`` can page nobody (None when it can page someone, or is not a built-in kind). ``seen``:
        the schedules whose fallbacks led here."""
        urgency = Urgency(getattr(target, "urgency", Urgency.HIGH))
        kind = target.type
        if kind == "user":
            email = getattr(target, "email", "")
            return None if self._reachable(email, urgency) else _no_contact(email, urgency)
        if kind == "team":
            team_id = getattr(target, "team_id", "")
            members = self.config.teams.get(team_id, ())
            if not members:
                return f"team {team_id!r} has no members"
            if not any(self._reachable(member, urgency) for member in members):
                return f"no member of team {team_id!r} has a contact that takes {urgency.value}-urgency pages"
            return None
        if kind == "schedule":
            return self._schedule_pages_nobody(getattr(target, "schedule_id", ""), urgency, seen)
        return None

    def _schedule_pages_nobody(self, schedule_id: str, urgency: Urgency, seen: frozenset[str]) -> str | None:
        resolver = self.resolvers.get(schedule_id)
        if resolver is None:
            return None
        if schedule_id in seen:
            return f"the fallbacks of schedule {schedule_id!r} lead back to it"
        people = {shift.user for shift in resolver.shifts(self.start, self.end)}
        fallback = resolver.fallback
        if not people:
            if fallback is not None and self._pages_nobody(fallback, seen | {schedule_id}) is None:
                return None
            return f"schedule {schedule_id!r} has no layer active in the next {self.weeks} weeks (and no fallback)"
        unreachable = sorted(person for person in people if not self._reachable(person, urgency))
        if unreachable and len(unreachable) == len(people):
            return f"nobody on call in schedule {schedule_id!r} has a contact that takes {urgency.value}-urgency pages"
        return None

    def _reachable(self, address: str, urgency: Urgency) -> bool:
        return bool(self.executor.person(address, "lint", urgency))

    def shadowed_policies(self) -> Iterator[Finding]:
        """A policy whose severity filter an earlier enabled policy has too, at the same or a higher priority,
        and that no ``use_policy`` rule names: no incident ever gets it."""
        policies = self.config.policies
        chosen = {
            getattr(action, "policy_id", None)
            for rule in self.config.rules
            if rule.enabled
            for action in rule.actions
            if action.type == "use_policy"
        }
        for later, policy in enumerate(policies):
            if not policy.enabled or policy.id in chosen:
                continue
            for earlier in range(later):
                first = policies[earlier]
                if first.enabled and _filter(first) == _filter(policy) and first.priority >= policy.priority:
                    yield Finding(
                        path=f"$.policies[{later}]",
                        severity="warning",
                        code="policy-shadowed",
                        message=f"policy {policy.id!r} is shadowed by $.policies[{earlier}] ({first.id!r}): the same "
                        f"severity filter at priority {first.priority} >= {policy.priority}, and no use_policy "
                        "rule names it: no incident gets it",
                    )
                    break

    # --- routing rules ---------------------------------------------------------------------------------

    def rules_after_catch_all(self) -> Iterator[Finding]:
        rules = self.config.rules
        order = sorted(range(len(rules)), key=lambda index: (-rules[index].priority, index))
        stopper: int | None = None
        for index in order:
            rule = rules[index]
            if not rule.enabled:
                continue
            if stopper is not None:
                yield Finding(
                    path=f"$.rules[{index}]",
                    severity="warning",
                    code="rule-after-catch-all",
                    message=f"rule {rule.name!r} is never evaluated: $.rules[{stopper}] ({rules[stopper].name!r}) "
                    "matches every incident and has stop: true",
                )
            elif rule.stop and _catch_all(rule):
                stopper = index

    def disabled_use_policy(self) -> Iterator[Finding]:
        for r, rule in enumerate(self.config.rules):
            for a, action in enumerate(rule.actions):
                if action.type != "use_policy":
                    continue
                policy = self.config.policy(getattr(action, "policy_id", ""))
                if policy is not None and not policy.enabled:
                    yield Finding(
                        path=f"$.rules[{r}].actions[{a}].policy_id",
                        severity="error",
                        code="use-disabled-policy",
                        message=f"policy {policy.id!r} is disabled: this action never chooses it",
                    )

    # --- schedules -------------------------------------------------------------------------------------

    def schedules(self) -> Iterator[Finding]:
        for s, schedule in enumerate(self.config.schedules):
            resolver = self.resolvers[schedule.id]
            yield from _overrides_in_gaps(schedule, resolver, f"$.schedules[{s}]")
            # A fallback that can page someone covers the gaps, as its author chose; one that cannot covers nothing.
            fallback = schedule.fallback
            idle = self._pages_nobody(fallback, frozenset({schedule.id})) if fallback is not None else None
            if fallback is not None and idle is None:
                continue
            gaps = resolver.gaps(self.start, self.end)
            if gaps:
                first = gaps[0]
                hours = sum((gap.end - gap.start for gap in gaps), timedelta()) / timedelta(hours=1)
                remedy = (
                    f"its fallback pages nobody ({idle})"
                    if idle
                    else "give the schedule a layer for them or a fallback"
                )
                yield Finding(
                    path=f"$.schedules[{s}]",
                    severity="warning",
                    code="coverage-gap",
                    message=f"nobody is on call for {hours:g} hours in {len(gaps)} gap(s) in the next {self.weeks} "
                    f"weeks, the first from {first.start.isoformat()} to {first.end.isoformat()}; {remedy}",
                )


def _overrides_in_gaps(schedule: OnCallSchedule, resolver: ScheduleResolver, base: str) -> Iterator[Finding]:
    for index, override in enumerate(schedule.overrides):
        if resolver.localize(override.start) >= resolver.localize(override.end):
            yield Finding(
                path=f"{base}.overrides[{index}]",
                severity="error",
                code="override-in-dst-gap",
                message=f"the override lies wholly inside a DST gap of {schedule.timezone} "
                f"({override.start.isoformat()} to {override.end.isoformat()} never happen): it has zero length",
            )


def _filter(policy: EscalationPolicy) -> frozenset[Severity]:
    return frozenset(policy.severity_filter) or frozenset(Severity)


def _no_contact(address: str, urgency: Urgency) -> str:
    return f"{address} has no contact that takes {urgency.value}-urgency pages"


def _catch_all(rule: RoutingRule) -> bool:
    """Whether every condition of ``rule`` holds for every incident."""
    return bool(rule.conditions) and all(_always_true(condition) for condition in rule.conditions)


def _always_true(condition: RuleCondition) -> bool:
    field, operator, value = condition.field, condition.operator, condition.value
    if operator == "exists":
        return field in _ALWAYS_PRESENT
    if operator == "not_in":
        return isinstance(value, Sequence) and not isinstance(value, str) and not value
    if operator == "in" and field in _ALL_VALUES and isinstance(value, Sequence) and not isinstance(value, str):
        return _ALL_VALUES[field] <= {str(item) for item in value}
    if operator == "matches" and field in _ALWAYS_PRESENT - {"priority_score", "assignees"}:
        return value in ("", ".*", "^", "(?s).*")
    return False
