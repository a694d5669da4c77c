"""Audit log: every lifecycle event (incidents processed, escalations and deliveries) and every change made at
run time (overrides, swaps, config reloads, notes, reassignments, heartbeats, maintenance windows) as one
structlog line.

Lines are at level info (a failed delivery: warning). When the configured logging drops info, the events
are not even formatted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tocsin import Change, DeliveryResult, EscalationState, Incident, Notification, hookimpl
from tocsin.logs import get_logger

_log = get_logger(audit=True)  # lazy: structlog loads at the first line, and configured logging applies


def _quiet() -> bool:
    """True when info lines would be dropped anyway."""
    enabled = getattr(_log, "is_enabled_for", None)
    return enabled is not None and not enabled(logging.INFO)


def _escalation(state: EscalationState) -> dict[str, object]:
    return {
        "incident_id": state.incident_id,
        "escalation_id": state.escalation_id,
        "policy_id": state.policy.id,
        "status": state.status.value,
        "version": state.version,
    }


@hookimpl
def tocsin_incident_processed(incident: Incident, matched_rules: Sequence[str], policy_id: str | None) -> None:
    """Log that an incident went through routing."""
    if _quiet():
        return
    _log.info(
        "incident.processed",
        incident_id=incident.id,
        severity=incident.severity.value,
        matched_rules=list(matched_rules),
        policy_id=policy_id,
    )


@hookimpl
def tocsin_escalation_started(state: EscalationState) -> None:
    """Log an escalation's start."""
    if _quiet():
        return
    _log.info("escalation.started", **_escalation(state))


@hookimpl
def tocsin_escalation_level_fired(state: EscalationState, level: int, pass_number: int, late: bool) -> None:
    """Log a level that fired."""
    if _quiet():
        return
    _log.info("escalation.level_fired", level=level, pass_number=pass_number, late=late, **_escalation(state))


@hookimpl
def tocsin_escalation_acknowledged(state: EscalationState, by: str) -> None:
    """Log an acknowledgement."""
    if _quiet():
        return
    _log.info("escalation.acknowledged", by=by, **_escalation(state))


@hookimpl
def tocsin_escalation_resolved(state: EscalationState) -> None:
    """Log a resolved escalation."""
    if _quiet():
        return
    _log.info("escalation.resolved", **_escalation(state))


@hookimpl
def tocsin_escalation_cancelled(state: EscalationState) -> None:
    """Log a cancelled escalation."""
    if _quiet():
        return
    _log.info("escalation.cancelled", **_escalation(state))


@hookimpl
def tocsin_escalation_completed(state: EscalationState) -> None:
    """Log an escalation that ran out of levels and repeats unacknowledged."""
    if _quiet():
        return
    _log.info("escalation.completed", **_escalation(state))


@hookimpl
def tocsin_notification_delivered(notification: Notification, result: DeliveryResult) -> None:
    """Log a confirmed delivery."""
    if _quiet():
        return
    _log.info(
        "notification.delivered",
        key=notification.key,
        channel=notification.recipient.channel,
        recipient=notification.recipient.address,
        detail=result.detail,
    )


@hookimpl
def tocsin_notification_failed(notification: Notification, result: DeliveryResult) -> None:
    """Log a failed delivery and why."""
    _log.warning(
        "notification.failed",
        key=notification.key,
        channel=notification.recipient.channel,
        recipient=notification.recipient.address,
        reason=result.detail,
    )


@hookimpl
def tocsin_change_recorded(change: Change) -> None:
    """Log a change made at run time: its kind (``override.created``, ``config.reloaded``, …), what it is
    about, who made it, and its details."""
    if _quiet():
        return
    _log.info(change.kind, subject=change.subject, by=change.by, at=change.at.isoformat(), **dict(change.detail))
