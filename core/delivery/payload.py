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
      "paged": ["eng1@example.com", "https://hooks.example.com/x"],   # everyone the level paged
      "links": [{"action": "acknowledge", "label": "Acknowledge", "url": "https://tocsin.example.com/v1/links/..."}],
      "incident": { ...every incident field, as ``tocsin route`` prints it... }
    }

``links`` (acknowledge, resolve, snooze, escalate, and ``open``: the incident in the web console, at
``{public_url}/ui/links/...``) is empty without ``server.public_url``. A summary of pages a
rate limit held back has ``"event": "rate_limit.summary"`` and lists them in ``"folded"`` (each with its key,
incident, escalation, title, severity, level, pass, due time and links); its ``incident`` is ``{"id": ""}``.

Fields are only ever added within a version; a change that removes or renames one bumps ``version``.
Receivers should drop duplicates by ``idempotency_key``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from tocsin.incidents import incident_to_json
from tocsin.models import ActionLink, FoldedPage, Notification, Urgency

__all__ = ["PAYLOAD_VERSION", "SUMMARY_INTRO", "also_paged", "folded_line", "page_payload", "page_subject", "page_text"]

PAYLOAD_VERSION = 1
SUMMARY_INTRO = "These pages to you were held back by the rate limit of this channel and are sent together here:"


def page_payload(notification: Notification) -> dict[str, Any]:
    """The version-1 JSON document for ``notification``."""
    incident = notification.incident
    fired = notification.fired_at or notification.due_at
    document = {
        "version": PAYLOAD_VERSION,
        "event": _event(notification),
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
        "paged": list(notification.paged),
        "links": _links_json(notification.links),
        "incident": incident_to_json(incident) if incident is not None else {"id": notification.incident_id},
    }
    if notification.folded:
        document["folded"] = [
            {
                "key": page.key,
                "incident_id": page.incident_id,
                "escalation_id": page.escalation_id,
                "title": page.title,
                "severity": page.severity.value if page.severity is not None else None,
                "level": page.level,
                "pass": page.pass_number,
                "due_at": page.due_at.isoformat(),
                "links": _links_json(page.links),
            }
            for page in notification.folded
        ]
    return document


def _event(notification: Notification) -> str:
    if notification.folded:
        return "rate_limit.summary"
    return "incident.notify" if notification.level < 0 else "escalation.page"


def _links_json(links: tuple[ActionLink, ...]) -> list[dict[str, str]]:
    return [{"action": link.action, "label": link.label, "url": link.url} for link in links]


def page_subject(notification: Notification) -> str:
    """A one-line summary: ``[P1] High CPU — escalation level 1`` (or ``— notification``; a rate limit's summary:
    ``3 pages held back by the rate limit — summary``)."""
    if notification.folded:
        count = len(notification.folded)
        return f"{count} page{'s' if count != 1 else ''} held back by the rate limit — summary"
    incident = notification.incident
    title = incident.title if incident is not None else notification.incident_id
    severity = f"[{incident.severity.value}] " if incident is not None else ""
    what = "notification" if notification.level < 0 else f"escalation level {notification.level}"
    late = " (late)" if notification.late else ""
    low = " (low urgency)" if notification.urgency is Urgency.LOW else ""
    return f"{severity}{title} — {what}{late}{low}"


def page_text(notification: Notification) -> str:
    """A plain-text body for people (e-mail and the like): the incident, the level, who else was paged, and
    the action links."""
    if notification.folded:
        return _summary_text(notification)
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
    others = also_paged(notification)
    if others:
        lines += ["", f"Also paged: {', '.join(others)}"]
    lines += _links_text(notification.links, "")
    lines += ["", f"Idempotency key: {notification.key}"]
    return "\n".join(lines) + "\n"


def also_paged(notification: Notification) -> list[str]:
    """Who else the level paged when it paged this recipient."""
    return [address for address in notification.paged if address != notification.recipient.address]


def folded_line(page: FoldedPage) -> str:
    """One held-back page as a summary lists it: ``[P1] High CPU (inc-1) — level 0, due 2026-03-01 03:05 UTC``."""
    severity = f"[{page.severity.value}] " if page.severity is not None else ""
    what = f"level {page.level}" if page.level >= 0 else "notification"
    return f"{severity}{page.title} ({page.incident_id}) — {what}, due {page.due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _summary_text(notification: Notification) -> str:
    lines = [
        page_subject(notification),
        "",
        SUMMARY_INTRO,
    ]
    for page in notification.folded:
        lines += ["", f"- {folded_line(page)}"]
        lines += [f"    {link.label}: {link.url}" for link in page.links]
    lines += ["", f"Idempotency key: {notification.key}"]
    return "\n".join(lines) + "\n"


def _links_text(links: tuple[ActionLink, ...], indent: str) -> list[str]:
    acting = [link for link in links if not link.opens]
    lines = ["", f"{indent}Act on it (each link asks you to confirm):"] if acting else []
    lines += [f"{indent}  {link.label}: {link.url}" for link in acting]
    opening = [link for link in links if link.opens]
    return lines + ([""] if opening else []) + [f"{indent}{link.label}: {link.url}" for link in opening]
