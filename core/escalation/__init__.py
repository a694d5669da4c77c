"""The escalation engine: policies compiled into plans, escalations walked forward in time, the due-queue and
its monitor, target expansion, smart levels (working hours, conditions, round robin) and the engine's errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.escalation.engine import EscalationEngine
    from tocsin.escalation.errors import (
        EscalationActiveError,
        EscalationError,
        EscalationNotActiveError,
        PolicyDisabledError,
        PolicyError,
        UnknownIncidentError,
        UnknownPolicyError,
    )
    from tocsin.escalation.targets import ExpandContext, TargetExecutor
    from tocsin.escalation.working_hours import WorkingHours, WorkingInterval, WorkingWindow, compile_working_hours
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.escalation.engine": ("EscalationEngine",),
            "tocsin.escalation.errors": (
                "EscalationActiveError",
                "EscalationError",
                "EscalationNotActiveError",
                "PolicyDisabledError",
                "PolicyError",
                "UnknownIncidentError",
                "UnknownPolicyError",
            ),
            "tocsin.escalation.targets": ("ExpandContext", "TargetExecutor"),
            "tocsin.escalation.working_hours": (
                "WorkingHours",
                "WorkingInterval",
                "WorkingWindow",
                "compile_working_hours",
            ),
        },
    )

__all__ = [
    "EscalationActiveError",
    "EscalationEngine",
    "EscalationError",
    "EscalationNotActiveError",
    "ExpandContext",
    "PolicyDisabledError",
    "PolicyError",
    "TargetExecutor",
    "UnknownIncidentError",
    "UnknownPolicyError",
    "WorkingHours",
    "WorkingInterval",
    "WorkingWindow",
    "compile_working_hours",
]
