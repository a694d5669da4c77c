"""One incident's timeline (``GET /v1/incidents/{id}/timeline``): its saved versions, the journals of every
escalation it had (a reassignment starts another), each page's delivery attempts, the runs of its playbooks
(those of an incident no escalation started too), its notes, and the maintenance window that held it — merged in
time order. Entries of one instant come in this order: the incident
raised (and held), each escalation's journal and then its deliveries, the incident's later versions, its notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from tocsin.delivery.playbooks import playbook_key
from tocsin.escalation.engine import EscalationEngine
from tocsin.models import Delivery, Incident, Notification
from tocsin.server.views import Timeline, TimelineEntry
from tocsin.store.interfaces import EscalationStore, IncidentStore
from tocsin.store.operations import OperationsStore

__all__ = ["incident_timeline"]


def incident_timeline(
    incident_id: str,
    engine: EscalationEngine,
    incidents: IncidentStore,
    operations: OperationsStore,
    playbooks: Iterable[str] = (),
) -> Timeline:
    """Everything recorded about ``incident_id``, oldest first; ``playbooks`` are the ids of the config's
    playbooks, whose runs for an incident no escalation started belong to no escalation's deliveries."""
    versions = _versions(incidents, incident_id)
    entries: list[TimelineEntry] = versions[:1]  # raised
    held = operations.suppression(incident_id)
    if held is not None:
        entries.append(
            TimelineEntry(
                at=held.at,
                source="incident",
                kind="suppressed",
                detail=f"maintenance window {held.window_id} until {held.until.isoformat()}, then {held.on_end.value}"
                + (f": {held.reason}" if held.reason else ""),
            )
        )
    store: EscalationStore = engine.store
    for escalation_id in engine.escalation_ids(incident_id):
        entries.extend(
            TimelineEntry(
                at=event.at,
                source="journal",
                kind=event.kind,
                by=event.by,
                detail=event.detail,
                escalation_id=escalation_id,
                level=event.level,
                pass_number=event.pass_number,
            )
            for event in store.events(escalation_id)
        )
        for delivery in store.deliveries(escalation_id):
            entries.extend(_attempts(store, delivery, escalation_id))
    for playbook_id in playbooks:  # a run belongs to the escalation when one started: listed with it above
        run = store.delivery(playbook_key(incident_id, playbook_id))
        if run is not None and not run.notification.escalation_id:
            entries.extend(_attempts(store, run, ""))
    entries.extend(versions[1:])
    entries.extend(
        TimelineEntry(at=note.at, source="note", kind="note", by=note.by, detail=note.text)
        for note in operations.notes(incident_id)
    )
    order = {id(entry): index for index, entry in enumerate(entries)}
    entries.sort(key=lambda entry: (entry.at, order[id(entry)]))
    return Timeline(incident_id=incident_id, entries=tuple(entries))


def _versions(incidents: IncidentStore, incident_id: str) -> list[TimelineEntry]:
    """The incident raised, then each saved version that changed its state (or anything else about it)."""
    entries = []
    before: Incident | None = None
    for change in incidents.history(incident_id):
        current = change.incident
        if before is None:
            kind, detail = "raised", f"{current.severity.value}: {current.title}"
        elif current.state is not before.state:
            kind, detail = "state_changed", f"{before.state.value} -> {current.state.value}"
        else:
            changed = [
                field.name
                for field in attrs.fields(Incident)
                if getattr(current, field.name) != getattr(before, field.name)
            ]
            kind, detail = "updated", ", ".join(changed)
        entries.append(TimelineEntry(at=change.at, source="incident", kind=kind, detail=detail))
        before = current
    return entries


def _attempts(store: EscalationStore, delivery: Delivery, escalation_id: str) -> list[TimelineEntry]:
    """One entry per delivery attempt of a page (``delivered`` or ``delivery_failed``); a page not yet tried is
    one entry with its status (``pending``)."""
    notification = delivery.notification
    answers = store.delivery_log(notification.key)
    if not answers:
        at = notification.fired_at or notification.due_at
        return [_page(at, delivery.status.value, "", notification, escalation_id)]
    return [
        _page(
            answer.at,
            "delivered" if answer.ok else "delivery_failed",
            f"attempt {answer.attempts}: {answer.detail}",
            notification,
            escalation_id,
        )
        for answer in answers
    ]


def _page(at: datetime, kind: str, detail: str, notification: Notification, escalation_id: str) -> TimelineEntry:
    recipient = notification.recipient
    return TimelineEntry(
        at=at,
        source="delivery",
        kind=kind,
        detail=detail,
        escalation_id=escalation_id or None,  # a playbook run of an incident no escalation started: none
        level=notification.level,
        pass_number=notification.pass_number,
        recipient=recipient.address,
        channel=recipient.channel,
    )
