"""The notification payload: one versioned JSON document per page, shared by every channel.

Version 1 (``"version": 1``)::

    {
      "version": 1,
      "event": "escalation.page",          # or "incident.notify" for a routing notify message
      "idempotency_key": "inc-1#1/r0/p0/l1/webhook/https://hooks.example.com/x",
      "escalation_id": "inc-1#1",          # "" for a notify message outside an escalation
      "policy_id": "standard-p1",
      "level": 1, "pass": 0, "round": 0,   # level -1 for a notify message
      "late": false,
      "urgency": "high",                   # the paging target's urgency: high (default) or low
      "due_at": "2026-03-01T03:05:00+00:00",
      "fired_at": "2026-03-01T03:05:00+00:00",
      "recipient": {"address": "...", "channel": "webhook", "target": "user"},
      "incident": { ...every incident field, as ``tocsin route`` prints it... }
    }

Fields are only ever added within a version; a change that removes or renames one bumps ``version``.
Receivers should drop duplicates by ``idempotency_key``.
"""

from __future__ import annotations

from typing import Any

from tocsin.incidents import incident_to_json
from tocsin.models import Notification, Urgency

__all__ = ["PAYLOAD_VERSION", "page_payload", "page_subject", "page_text"]

PAYLOAD_VERSION = 1


def page_payload(notification: Notification) -> dict[str, Any]:
    """The version-1 JSON document for ``notification``."""
    incident = notification.incident
    fired = notification.fired_at or notification.due_at
    return {
        "version": PAYLOAD_VERSION,
        "event": "incident.notify" if notification.level < 0 else "escalation.page",
        "idempotency_key": notification.key,
        "escalation_id": notification.escalation_id,
        "policy_id": notification.policy_id,
        "level": notification.level,
        "pass": notification.pass_number,
        "round": notification.round,
        "late": notification.late,
        "urgency": notification.urgency.value,
        "due_at": notification.due_at.isoformat(),
        "fired_at": fired.isoformat(),
        "recipient": {
            "address": notification.recipient.address,
            "channel": notification.recipient.channel,
            "target": notification.recipient.target,
        },
        "incident": incident_to_json(incident) if incident is not None else {"id": notification.incident_id},
    }


def page_subject(notification: Notification) -> str:
    """A one-line summary: ``[P1] High CPU — escalation level 1`` (or ``— notification``)."""
    incident = notification.incident
    title = incident.title if incident is not None else notification.incident_id
    severity = f"[{incident.severity.value}] " if incident is not None else ""
    what = "notification" if notification.level < 0 else f"escalation level {notification.level}"
    late = " (late)" if notification.late else ""
    low = " (low urgency)" if notification.urgency is Urgency.LOW else ""
    return f"{severity}{title} — {what}{late}{low}"


def page_text(notification: Notification) -> str:
    """A plain-text body for people (e-mail and the like)."""
    incident = notification.incident
    lines = [page_subject(notification), ""]
    if incident is not None:
        lines += [
            f"Incident: {incident.id}",
            f"Severity: {incident.severity.value}",
            f"Type: {incident.incident_type.value}",
            f"State: {incident.state.value}",
            f"Source: {incident.source}",
        ]
        if incident.description:
            lines += ["", incident.description]
    if notification.level >= 0:
        lines += ["", f"Policy {notification.policy_id}, pass {notification.pass_number}, level {notification.level}."]
        lines += [f"Urgency: {notification.urgency.value}."]
    lines += ["", f"Idempotency key: {notification.key}"]
    return "\n".join(lines) + "\n"
