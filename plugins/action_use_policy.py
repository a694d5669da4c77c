"""Routing action ``use_policy {policy_id}``: escalate with this policy instead of the severity-based choice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, Config, hookimpl
from tocsin.validators import non_empty


@attrs.frozen(kw_only=True)
class UsePolicy:
    """Use the escalation policy ``policy_id``."""

    type: ClassVar[str] = "use_policy"
    policy_id: str = attrs.field(validator=non_empty)


def apply(action: UsePolicy, ctx: ActionContext) -> None:
    """Choose the policy unless an earlier rule already chose one. A policy that does not exist or is disabled
    is a failed effect and chooses nothing, so a later rule's ``use_policy`` still can."""
    if ctx.knows_policies:
        policy = ctx.policy(action.policy_id)
        if policy is None or not policy.enabled:
            why = "does not exist" if policy is None else "is disabled"
            ctx.failed(f"policy {action.policy_id!r} {why}: not chosen")
            return
    holder = ctx.claim("policy")
    if holder is not None:
        ctx.ignored(f"policy stays {ctx.output('policy_id')!r} (chosen by rule {holder!r})")
        return
    ctx.set_output("policy_id", action.policy_id)
    ctx.applied(f"use policy {action.policy_id!r}")


def check(action: UsePolicy, config: Config) -> Iterator[str]:
    """The policy must exist in the configuration."""
    if config.policy(action.policy_id) is None:
        known = ", ".join(policy.id for policy in config.policies) or "(none)"
        yield f"unknown policy {action.policy_id!r}; known: {known}"


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``use_policy`` with its load-time check."""
    register(UsePolicy, apply=apply, check=check)
