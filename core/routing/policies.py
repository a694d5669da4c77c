"""Which escalation policy an incident gets: the routing override, else the best severity match."""

from __future__ import annotations

from collections.abc import Iterable

from tocsin.models import EscalationPolicy, Incident

__all__ = ["select_policy"]


def select_policy(
    policies: Iterable[EscalationPolicy], incident: Incident, policy_id_override: str | None = None
) -> EscalationPolicy | None:
    """The policy for ``incident``.

    A ``policy_id_override`` (from a ``use_policy`` routing action) that names an enabled policy wins,
    whatever its severity filter. Otherwise: among enabled policies whose ``severity_filter`` is empty or
    contains the incident's severity, the highest ``priority``; ties go to the one defined first. None
    when no policy applies.
    """
    candidates = list(policies)
    if policy_id_override is not None:
        for policy in candidates:
            if policy.id == policy_id_override and policy.enabled:
                return policy
    best: EscalationPolicy | None = None
    for policy in candidates:
        if policy.applies_to(incident.severity) and (best is None or policy.priority > best.priority):
            best = policy
    return best
