"""Where incidents come in: the incident processor (dedup, routing, policy choice, escalation start), the
applying side of inbound integrations, and the reconciler that repairs what should never be found broken."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.intake.inbound import (
        EventOutcome,
        EventResult,
        Inbound,
        IntegrationSetupError,
        Receipt,
        SourceError,
        UnknownIntegrationError,
    )
    from tocsin.intake.processor import IncidentProcessor, ProcessResult
    from tocsin.intake.reconciler import Reconciliation, reconcile
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.intake.inbound": (
                "EventOutcome",
                "EventResult",
                "Inbound",
                "IntegrationSetupError",
                "Receipt",
                "SourceError",
                "UnknownIntegrationError",
            ),
            "tocsin.intake.processor": ("IncidentProcessor", "ProcessResult"),
            "tocsin.intake.reconciler": ("Reconciliation", "reconcile"),
        },
    )

__all__ = [
    "EventOutcome",
    "EventResult",
    "Inbound",
    "IncidentProcessor",
    "IntegrationSetupError",
    "ProcessResult",
    "Receipt",
    "Reconciliation",
    "SourceError",
    "UnknownIntegrationError",
    "reconcile",
]
