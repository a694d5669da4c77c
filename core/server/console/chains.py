"""Escalation policies as readable chains: each level's delay, targets, conditions and behaviour, the repeat,
and which routing rules send incidents to the policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from tocsin.config import Config
from tocsin.delivery.urls import redact_url
from tocsin.models import AckMode, EscalationLevel, EscalationPolicy, RoutingRule, TargetSpec

__all__ = ["Chain", "Step", "TargetText", "chains", "describe_target"]


@attrs.frozen(kw_only=True)
class TargetText:
    """A target as the page shows it: its type, what it names, and the schedule it links to (if one)."""

    kind: str
    name: str
    schedule_id: str | None = None


@attrs.frozen(kw_only=True)
class Step:
    """One level: when it fires, whom it pages, and the sentences that qualify it."""

    level: int
    delay_minutes: int
    targets: tuple[TargetText, ...]
    notes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Chain:
    """A policy: its levels in order, its repeat, and the routing rules that choose it."""

    policy: EscalationPolicy
    steps: tuple[Step, ...]
    repeat: str | None
    rules: tuple[str, ...]


def describe_target(target: TargetSpec) -> TargetText:
    """``target`` in a few words: the field that names whom it reaches (a URL with its secrets taken out)."""
    for field in ("email", "team_id", "schedule_id", "url", "name", "id"):
        value = getattr(target, field, None)
        if isinstance(value, str):
            shown = redact_url(value) if field == "url" else value
            return TargetText(kind=target.type, name=shown, schedule_id=value if field == "schedule_id" else None)
    return TargetText(kind=target.type, name="")


def _notes(level: EscalationLevel) -> Iterable[str]:
    if level.when is not None:
        for condition in level.when.conditions:
            shown = "" if condition.value is None else f" {condition.value}"
            yield f"only when {condition.field} {condition.operator}{shown}"
        if level.when.during:
            yield f"only during {level.when.during}"
        if level.when.outside:
            yield f"only outside {level.when.outside}"
    if level.delay_counts_during:
        yield f"the delay counts only during {level.delay_counts_during}"
    if not level.stop_on_ack:
        yield "fires even after an acknowledgement"
    if level.round_robin is not None:
        yield f"one recipient at a time, the next after {level.round_robin.rotate_after_minutes} min"
    if level.ack_mode is AckMode.ALL:
        yield "everyone paged must acknowledge"


def _rules_choosing(policy: EscalationPolicy, rules: Sequence[RoutingRule]) -> tuple[str, ...]:
    """The rules with an action naming ``policy`` (``use_policy``, or any action with a ``policy_id``)."""
    return tuple(
        rule.name for rule in rules if any(getattr(action, "policy_id", None) == policy.id for action in rule.actions)
    )


def chains(config: Config) -> list[Chain]:
    """Every policy of ``config`` as a chain, in the order the config lists them."""
    found = []
    for policy in config.policies:
        steps = tuple(
            Step(
                level=index,
                delay_minutes=level.delay_minutes,
                targets=tuple(describe_target(target) for target in level.targets),
                notes=tuple(_notes(level)),
            )
            for index, level in enumerate(policy.levels)
        )
        repeat = None
        if policy.repeat is not None and policy.repeat.max_repeats:
            count = policy.repeat.max_repeats
            times = "once" if count == 1 else f"{count} times"
            repeat = f"then from level 0 again, {times}, {policy.repeat.interval_minutes} min after the last level"
        found.append(Chain(policy=policy, steps=steps, repeat=repeat, rules=_rules_choosing(policy, config.rules)))
    return found
