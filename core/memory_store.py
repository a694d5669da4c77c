"""In-memory implementations of the store protocols: for tests, simulations and embedding.

They keep the same promises a durable store does (compare-and-set on versions, an outbox keyed by
idempotency key, all-or-nothing commits), so two engines sharing one store behave like two instances
sharing a database, and a new engine built on an old store behaves like a restart.
"""

from __future__ import annotations

from collections.abc import Sequence

from tocsin.escalation_errors import StaleStateError
from tocsin.models import Delivery, DeliveryResult, DeliveryStatus, EscalationEvent, Incident, Notification
from tocsin.store import EscalationRow

__all__ = ["InMemoryIncidentStore", "InMemoryStore"]

_NO_EVENTS: list[EscalationEvent] = []
_PENDING = DeliveryStatus.PENDING


class _Entry:
    """One outbox row: the notification, its status and the channel's answer (mutable, compact)."""

    __slots__ = ("notification", "result", "status")

    def __init__(self, notification: Notification) -> None:
        self.notification = notification
        self.status = _PENDING
        self.result: DeliveryResult | None = None

    def delivery(self) -> Delivery:
        return Delivery(notification=self.notification, status=self.status, result=self.result)


class InMemoryStore:
    """Escalation rows, journals and the outbox, in dictionaries."""

    def __init__(self) -> None:
        self._rows: dict[str, EscalationRow] = {}  # incident id -> latest escalation
        self._events: dict[str, list[EscalationEvent]] = {}  # escalation id -> journal
        self._outbox: dict[str, _Entry] = {}  # idempotency key -> entry (insertion ordered)
        self._by_escalation: dict[str, list[str]] = {}  # escalation id -> keys

    # --- escalations -------------------------------------------------------------------------------------

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id``, or None."""
        return self._rows.get(incident_id)

    def load_open(self) -> list[EscalationRow]:
        """Every active or acknowledged escalation."""
        return [row for row in self._rows.values() if row.is_open]

    def commit(
        self,
        row: EscalationRow,
        *,
        expected_version: int | None,
        notifications: Sequence[Notification] = (),
        events: Sequence[EscalationEvent] = (),
    ) -> list[Notification]:
        """Write the row, the new notifications and the events at once; see ``EscalationStore.commit``."""
        held = self._rows.get(row.incident_id)
        if expected_version is None:
            if held is not None and (held.is_open or held.escalation_id == row.escalation_id):
                raise StaleStateError(
                    f"incident {row.incident_id!r}: escalation {held.escalation_id!r} is already stored"
                )
        elif held is None or held.escalation_id != row.escalation_id or held.version != expected_version:
            found = "nothing" if held is None else f"{held.escalation_id!r} version {held.version}"
            raise StaleStateError(
                f"incident {row.incident_id!r}: expected escalation {row.escalation_id!r} version "
                f"{expected_version}, found {found}"
            )
        self._rows[row.incident_id] = row
        if events:
            self._events.setdefault(row.escalation_id, []).extend(events)
        return self._insert(notifications) if notifications else []

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        return list(self._events.get(escalation_id, _NO_EVENTS))

    # --- outbox ------------------------------------------------------------------------------------------

    def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert notifications that belong to no escalation; returns the new ones."""
        return self._insert(notifications)

    def _insert(self, notifications: Sequence[Notification]) -> list[Notification]:
        outbox = self._outbox
        fresh: list[Notification] = []
        for notification in notifications:
            key = notification.key
            if key in outbox:
                continue
            outbox[key] = _Entry(notification)
            self._by_escalation.setdefault(notification.escalation_id, []).append(key)
            fresh.append(notification)
        return fresh

    def claim(self, key: str) -> bool:
        """Pending -> sending; False when the notification is not pending."""
        entry = self._outbox.get(key)
        if entry is None or entry.status is not _PENDING:
            return False
        entry.status = DeliveryStatus.SENDING
        return True

    def finish(self, result: DeliveryResult) -> None:
        """Record the channel's answer for ``result.key``."""
        entry = self._outbox.get(result.key)
        if entry is None:
            raise KeyError(f"no notification with key {result.key!r} in the outbox")
        entry.status = DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED
        entry.result = result

    def pending(self) -> list[Notification]:
        """Notifications never handed to a channel, oldest first."""
        return [entry.notification for entry in self._outbox.values() if entry.status is _PENDING]

    def deliveries(self, escalation_id: str) -> list[Delivery]:
        """The outbox entries of one escalation, in the order they were written."""
        outbox = self._outbox
        return [outbox[key].delivery() for key in self._by_escalation.get(escalation_id, ())]

    def all_deliveries(self) -> list[Delivery]:
        """Every outbox entry, in the order written (for tests and simulations)."""
        return [entry.delivery() for entry in self._outbox.values()]


class InMemoryIncidentStore:
    """Incidents by id, open ones by dedup key, and repeat counters."""

    def __init__(self) -> None:
        self._incidents: dict[str, Incident] = {}
        self._open_by_dedup: dict[str, str] = {}
        self._duplicates: dict[str, int] = {}

    def get(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        return self._incidents.get(incident_id)

    def save(self, incident: Incident) -> None:
        """Insert or replace; keeps the dedup index in step with the incident's state."""
        previous = self._incidents.get(incident.id)
        if previous is not None and previous.dedup_key and self._open_by_dedup.get(previous.dedup_key) == incident.id:
            del self._open_by_dedup[previous.dedup_key]
        self._incidents[incident.id] = incident
        if incident.dedup_key and incident.state.is_open:
            self._open_by_dedup[incident.dedup_key] = incident.id

    def find_open(self, dedup_key: str) -> Incident | None:
        """The open incident with this dedup key, or None."""
        incident_id = self._open_by_dedup.get(dedup_key)
        return None if incident_id is None else self._incidents[incident_id]

    def add_duplicate(self, incident_id: str) -> int:
        """Count one more repeat; returns the new count."""
        count = self._duplicates.get(incident_id, 0) + 1
        self._duplicates[incident_id] = count
        return count

    def duplicates(self, incident_id: str) -> int:
        """How many repeats were folded into the incident."""
        return self._duplicates.get(incident_id, 0)

    def all(self) -> list[Incident]:
        """Every incident, in the order first saved."""
        return list(self._incidents.values())
