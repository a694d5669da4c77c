"""The escalation engine: policies compiled into plans, escalations walked forward in time, the due-queue and
its monitor, target expansion, smart levels (working hours, conditions, round robin) and the engine's errors."""

from __future__ import annotations

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
