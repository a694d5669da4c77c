"""Where incidents come in: the incident processor (dedup, routing, policy choice, escalation start) and the
applying side of inbound integrations."""

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

__all__ = [
    "EventOutcome",
    "EventResult",
    "Inbound",
    "IncidentProcessor",
    "IntegrationSetupError",
    "ProcessResult",
    "Receipt",
    "SourceError",
    "UnknownIntegrationError",
]
