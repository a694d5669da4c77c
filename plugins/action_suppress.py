"""Routing action ``suppress {duration_minutes}``: no escalation and no notifications for a while.

Routing only records the window in ``RoutingResult.suppress_minutes``; the incident processor holds the
escalation and the notifications back until it ends, then starts the escalation if the incident is still
open. The first rule to suppress sets the duration.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, hookimpl
from tocsin.validators import at_least


@attrs.frozen(kw_only=True)
class Suppress:
    """Hold escalation and notifications back for ``duration_minutes``."""

    type: ClassVar[str] = "suppress"
    duration_minutes: int = attrs.field(validator=at_least(1))


def apply(action: Suppress, ctx: ActionContext) -> None:
    """Record the suppression unless an earlier rule already set one."""
    holder = ctx.claim("suppress")
    if holder is not None:
        minutes = ctx.output("suppress_minutes")
        ctx.ignored(f"already suppressed for {minutes} minutes by rule {holder!r}")
        return
    ctx.set_output("suppress_minutes", action.duration_minutes)
    ctx.applied(f"suppress escalation and notifications for {action.duration_minutes} minutes")


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``suppress``."""
    register(Suppress, apply=apply)
