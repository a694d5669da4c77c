"""Where incidents come in: the incident processor (dedup, routing, policy choice, escalation start), the
applying side of inbound integrations, and the reconciler that repairs what should never be found broken."""

from __future__ import annotations

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
