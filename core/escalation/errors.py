"""The mistakes the escalation engine reports: each type says what kind, each message says which incident."""

from __future__ import annotations

from tocsin.errors import TocsinError

__all__ = [
    "EscalationActiveError",
    "EscalationError",
    "EscalationNotActiveError",
    "PolicyDisabledError",
    "PolicyError",
    "UnknownIncidentError",
    "UnknownPolicyError",
]


class EscalationError(TocsinError):
    """Base of the escalation engine's errors."""


class UnknownIncidentError(EscalationError, LookupError):
    """No escalation (or incident) is known under this incident id."""


class UnknownPolicyError(EscalationError, LookupError):
    """No policy is registered under this id."""


class PolicyError(EscalationError, ValueError):
    """A policy cannot be registered: a target type nobody registered, or a level that does not compile."""


class PolicyDisabledError(EscalationError):
    """The policy exists but ``enabled`` is false, so it cannot start an escalation."""


class EscalationActiveError(EscalationError):
    """The incident already has an active (or acknowledged) escalation."""


class EscalationNotActiveError(EscalationError):
    """The action needs an active escalation and this one is not (acknowledged, completed, resolved, …)."""
