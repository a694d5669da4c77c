"""Routing action ``set_severity {severity}``: change the incident's severity (the first rule to set it wins).

Only the severity changes; ``priority_score`` keeps its value.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, Severity, hookimpl


@attrs.frozen(kw_only=True)
class SetSeverity:
    """Set the incident's severity to ``severity`` (P0 … P4)."""

    type: ClassVar[str] = "set_severity"
    severity: Severity = attrs.field(converter=Severity)


def apply(action: SetSeverity, ctx: ActionContext) -> None:
    """Set the severity unless an earlier rule already did."""
    holder = ctx.claim("severity")
    if holder is not None:
        ctx.ignored(f"severity stays {ctx.incident.severity.value} (set by rule {holder!r})")
        return
    before = ctx.incident.severity
    ctx.replace(severity=action.severity)
    ctx.applied(f"severity {before.value} -> {action.severity.value}")


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``set_severity``."""
    register(SetSeverity, apply=apply)
