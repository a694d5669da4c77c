"""One timeline of everything that happened to an incident, for its console page.

:func:`incident_timeline` is the one place it is put together: the incident's saved versions (raised, state
changes), its escalation's journal (started under a policy, levels fired, acknowledgements, snoozes,
escalations, the end), and every page with its channel and each delivery attempt's outcome, merged oldest
first (ties in the order they were recorded). A source of entries added later (notes, say) is one more list
merged here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from tocsin.models import Delivery, EscalationState, Notification
from tocsin.store.interfaces import DeliveryStore, IncidentChange

__all__ = ["TimelineEntry", "incident_timeline"]

# What each journal kind reads as on the page (the rest show their kind with underscores as spaces).
_EVENT_TEXT = {
    "started": "escalation started",
    "level_fired": "level fired",
    "announced": "routing notifications sent",
    "ack_timeout": "acknowledgement timed out",
    "escalated": "escalated by hand",
    "unresolved": "nobody on call",
    "target_failed": "target failed",
    "snooze_ended": "snooze ended",
}


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One thing that happened: when, where it was recorded (``incident``, ``journal``, ``delivery``), what
    (``kind``), who did it, and for a page the level, recipient, channel and outcome."""

    at: datetime
    source: str
    kind: str
    text: str
    by: str | None = None
    detail: str = ""
    level: int | None = None
    pass_number: int | None = None
    recipient: str | None = None
    channel: str | None = None
    ok: bool | None = None  # a delivery attempt: delivered (True) or failed (False); None: not an attempt


def incident_timeline(
    history: Iterable[IncidentChange], escalation: EscalationState | None, deliveries: DeliveryStore
) -> list[TimelineEntry]:
    """The incident's timeline, oldest first, from its saved versions (``history``), its latest
    ``escalation`` (None when it never escalated) and the outbox's delivery attempts."""
    entries = list(_versions(history))
    if escalation is not None:
        entries.extend(_journal(escalation))
        for delivery in escalation.deliveries:
            entries.extend(_attempts(delivery, deliveries))
    order = {id(entry): index for index, entry in enumerate(entries)}
    entries.sort(key=lambda entry: (entry.at, order[id(entry)]))
    return entries


def _versions(history: Iterable[IncidentChange]) -> Iterable[TimelineEntry]:
    before = None
    for change in history:
        current = change.incident
        if before is None:
            yield TimelineEntry(
                at=change.at, source="incident", kind="raised", text="raised", detail=f"from {current.source or '?'}"
            )
        elif current.state is not before.state:
            text = f"{before.state.value} → {current.state.value}"
            yield TimelineEntry(at=change.at, source="incident", kind="state_changed", text=text)
        before = current


def _journal(escalation: EscalationState) -> Iterable[TimelineEntry]:
    for event in escalation.events:  # "started" says under which policy
        text = _EVENT_TEXT.get(event.kind, event.kind.replace("_", " "))
        detail = event.detail
        yield TimelineEntry(
            at=event.at,
            source="journal",
            kind=event.kind,
            text=text,
            by=event.by,
            detail=detail + (" (late)" if event.late else ""),
            level=event.level,
            pass_number=event.pass_number,
        )


def _attempts(delivery: Delivery, store: DeliveryStore) -> Iterable[TimelineEntry]:
    """A page: one entry per delivery attempt with its outcome; a page not yet tried is one entry saying so."""
    notification = delivery.notification
    answers = store.delivery_log(notification.key)
    if not answers:
        status = delivery.status.value
        yield _page(notification, notification.fired_at or notification.due_at, status, f"page {status}", "", None)
    for answer in answers:
        detail = f"attempt {answer.attempts}" + (f": {answer.detail}" if answer.detail else "")
        kind, text = ("delivered", "paged") if answer.ok else ("delivery_failed", "page failed")
        yield _page(notification, answer.at, kind, text, detail, answer.ok)


def _page(
    notification: Notification, at: datetime, kind: str, text: str, detail: str, ok: bool | None
) -> TimelineEntry:
    recipient = notification.recipient
    return TimelineEntry(
        at=at,
        source="delivery",
        kind=kind,
        text=text,
        detail=detail,
        level=notification.level if notification.level >= 0 else None,
        pass_number=notification.pass_number,
        recipient=recipient.address,
        channel=recipient.channel,
        ok=ok,
    )
