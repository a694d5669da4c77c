"""The storage interfaces the engine and the incident processor write through.

The engine never touches a database: it hands a store one :class:`EscalationRow` per state transition,
together with the notifications and journal events that transition creates, and the store writes them in
ONE transaction. Rows carry a ``version`` for compare-and-set, so two instances sharing a store never both
apply a transition. The outbox table keeps every notification by its idempotency key: inserting a key that
is already there does nothing, which is what makes "at most once per key" hold across restarts and
instances. :mod:`tocsin.memory_store` implements these protocols in memory; a durable store implements
the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from tocsin.models import (
    Delivery,
    DeliveryResult,
    EscalationEvent,
    EscalationPolicy,
    EscalationStatus,
    Incident,
    Notification,
    Recipient,
)

__all__ = ["OPEN_STATUSES", "EscalationRow", "EscalationStore", "IncidentStore"]

OPEN_STATUSES = frozenset({EscalationStatus.ACTIVE, EscalationStatus.ACKNOWLEDGED})


@attrs.frozen(kw_only=True)
class EscalationRow:
    """The stored state of one escalation. Instants are integer microseconds since the epoch (UTC).

    The position is ``(round, pass_number, level)``: ``level`` is the last level that fired in the pass (-1
    before the first) and ``anchor`` the instant that level was due (before the first: the instant level 0's
    delay counts from). Everything else about the schedule follows from the policy snapshot.
    """

    escalation_id: str
    incident: Incident
    policy: EscalationPolicy  # the snapshot taken when the escalation started
    status: EscalationStatus
    pass_number: int
    level: int
    anchor: int
    round: int
    started_at: int
    acknowledged_by: str | None
    acknowledged_at: int | None
    acknowledged_level: int | None
    ended_at: int | None
    next_due: int | None
    version: int
    announce: tuple[Recipient, ...] = ()  # routing notify recipients, sent when the schedule begins
    announced: bool = False

    @property
    def incident_id(self) -> str:
        """The incident this escalation pages for."""
        return self.incident.id

    @property
    def is_open(self) -> bool:
        """True while the escalation is active or acknowledged."""
        return self.status in OPEN_STATUSES


class EscalationStore(Protocol):
    """Escalation rows, their journal, and the notification outbox."""

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id`` (open or ended), or None."""
        ...

    def load_open(self) -> list[EscalationRow]:
        """Every active or acknowledged escalation (what an engine picks up when it starts)."""
        ...

    def commit(
        self,
        row: EscalationRow,
        *,
        expected_version: int | None,
        notifications: Sequence[Notification] = (),
        events: Sequence[EscalationEvent] = (),
    ) -> list[Notification]:
        """Write ``row``, insert ``notifications`` into the outbox and append ``events``, all or nothing.

        ``expected_version`` is the version the caller read (None for a new escalation, which must not
        replace an open one). A mismatch raises ``StaleStateError`` and writes nothing. Returns the
        notifications that were new; a key already in the outbox is left as it is.
        """
        ...

    def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert notifications that belong to no escalation (routing ``notify`` messages); returns new ones."""
        ...

    def claim(self, key: str) -> bool:
        """Mark a pending notification as being sent; False when it is not pending (someone else has it)."""
        ...

    def finish(self, result: DeliveryResult) -> None:
        """Record what the channel answered for the notification ``result.key``."""
        ...

    def pending(self) -> list[Notification]:
        """Notifications written but never handed to a channel, oldest first."""
        ...

    def deliveries(self, escalation_id: str) -> list[Delivery]:
        """The outbox entries of one escalation, in the order they were written."""
        ...

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        ...


class IncidentStore(Protocol):
    """Incidents, looked up by id and by dedup key among the open ones."""

    def get(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        ...

    def save(self, incident: Incident) -> None:
        """Insert or replace the incident (keyed by ``incident.id``)."""
        ...

    def find_open(self, dedup_key: str) -> Incident | None:
        """The open incident with this dedup key, or None."""
        ...

    def add_duplicate(self, incident_id: str) -> int:
        """Count one more repeat of the incident; returns the new count."""
        ...

    def duplicates(self, incident_id: str) -> int:
        """How many repeats were folded into the incident."""
        ...
