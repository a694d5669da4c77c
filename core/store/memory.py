"""In-memory implementations of the store protocols: for tests, simulations and embedding.

They keep the same promises a durable store does (compare-and-set on versions, an outbox keyed by
idempotency key with leased claims and scheduled retries, all-or-nothing commits), so two engines sharing
one store behave like two instances sharing a database, and a new engine built on an old store behaves like
a restart. :mod:`tocsin.store.sqlite.store` keeps the same promises on disk.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from tocsin.clock import Clock, SystemClock
from tocsin.instants import to_micros
from tocsin.models import (
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    EscalationEvent,
    EscalationStatus,
    Incident,
    IncidentState,
    Notification,
)
from tocsin.store.errors import StaleStateError
from tocsin.store.interfaces import EscalationRow, IncidentChange, IndexedEscalation, OpenEscalation
from tocsin.store.memory_limits import MemoryContactLimits
from tocsin.store.unit import UnitOfWork

__all__ = ["InMemoryIncidentStore", "InMemoryStore"]

_NO_EVENTS: list[EscalationEvent] = []
_PENDING = DeliveryStatus.PENDING
_SENDING = DeliveryStatus.SENDING
_FAILED = DeliveryStatus.FAILED
_SENT = DeliveryStatus.SENT
_DEAD = DeliveryStatus.DEAD


class _Entry:
    """One outbox row: the notification, its status, attempts, lease or retry time, and the latest answer."""

    __slots__ = ("attempts", "lease_until", "next_attempt_at", "notification", "result", "status")

    def __init__(self, notification: Notification) -> None:
        self.notification = notification
        self.status = _PENDING
        self.result: DeliveryResult | None = None
        self.attempts = 0
        self.next_attempt_at: datetime | None = None
        self.lease_until: datetime | None = None

    def delivery(self) -> Delivery:
        return Delivery(
            notification=self.notification,
            status=self.status,
            result=self.result,
            attempts=self.attempts,
            next_attempt_at=self.next_attempt_at,
        )

    def claimable(self, now: datetime | None) -> bool:
        status = self.status
        if status is _PENDING:
            return True
        if status is _FAILED:
            return now is None or self.next_attempt_at is None or self.next_attempt_at <= now
        if status is _SENDING:
            return now is not None and self.lease_until is not None and self.lease_until <= now
        return False


class InMemoryStore(UnitOfWork, MemoryContactLimits):
    """Escalation rows, journals and the outbox, in dictionaries.

    Atomic blocks (:meth:`atomic`) keep their promise in memory too: a block that raises undoes the rows,
    journal events and outbox entries written inside it (and the incidents of an :class:`InMemoryIncidentStore`
    made with ``unit=`` this store).
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, EscalationRow] = {}  # incident id -> latest escalation
        self._events: dict[str, list[EscalationEvent]] = {}  # escalation id -> journal
        self._outbox: dict[str, _Entry] = {}  # idempotency key -> entry (insertion ordered)
        self._by_escalation: dict[str, list[str]] = {}  # escalation id -> keys
        self._unsettled: dict[str, None] = {}  # keys not yet sent or dead (insertion ordered)
        self._log: dict[str, list[DeliveryResult]] = {}  # key -> every answer
        self._dead: list[str] = []  # keys in the order they were given up
        self._disabled: dict[tuple[str, str], str] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}  # incident id -> (owner, lease end) of due work
        # Open rows by due time, for claim_due: (next_due, escalation id, incident id). An entry whose row has
        # since changed is dropped when it comes to the top (the row's own entry was pushed when it was written).
        self._due: list[tuple[int, str, str]] = []
        self._round_robin: dict[tuple[str, int], int] = {}  # (policy id, level) -> rotations started
        self._init_limits()
        self._feed_tokens: dict[str, str] = {}  # calendar feed -> its token

    # --- escalations -------------------------------------------------------------------------------------

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id``, or None."""
        return self._rows.get(incident_id)

    def load_open(self) -> list[EscalationRow]:
        """Every active or acknowledged escalation."""
        return [row for row in self._rows.values() if row.is_open]

    def open_index(self) -> list[OpenEscalation]:
        """Every active or acknowledged escalation's ids, version and due time."""
        return [
            OpenEscalation(row.incident_id, row.escalation_id, row.version, row.next_due)
            for row in self._rows.values()
            if row.is_open
        ]

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """The incidents with an escalation (an open one, with ``open_only``)."""
        return {incident_id for incident_id, row in self._rows.items() if not open_only or row.is_open}

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
        self._index_due(row)
        self._leases.pop(row.incident_id, None)
        journal = self._events.setdefault(row.escalation_id, [])
        written = len(journal)
        journal.extend(events)
        fresh = self._insert(notifications) if notifications else []

        def undo() -> None:
            if held is None:
                self._rows.pop(row.incident_id, None)
            else:
                self._rows[row.incident_id] = held
                self._index_due(held)
            del journal[written:]
            self._remove(fresh)

        self.after_rollback(undo)
        return fresh

    def claim_due(self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100) -> list[EscalationRow]:
        """Open escalations due by ``now`` and not leased to another owner, leased to ``owner``, earliest first.
        Found by the due-time heap: the cost follows what is due, not how many escalations are open."""
        cut = to_micros(now)
        until = now + timedelta(seconds=lease_seconds)
        heap = self._due
        rows = self._rows
        due: list[EscalationRow] = []
        held_elsewhere: list[tuple[int, str, str]] = []
        taken: set[str] = set()
        while heap and heap[0][0] <= cut and len(due) < limit:
            entry = heapq.heappop(heap)
            next_due, escalation_id, incident_id = entry
            row = rows.get(incident_id)
            if (
                row is None
                or not row.is_open
                or row.next_due != next_due
                or row.escalation_id != escalation_id
                or incident_id in taken
            ):
                continue  # an entry of an earlier version of the row (or a duplicate): the row has its own
            if not self._free(row, owner, now):
                held_elsewhere.append(entry)
                continue
            taken.add(incident_id)
            due.append(row)
        for entry in held_elsewhere:
            heapq.heappush(heap, entry)
        for row in due:
            self._leases[row.incident_id] = (owner, until)
            assert row.next_due is not None
            heapq.heappush(heap, (row.next_due, row.escalation_id, row.incident_id))  # due until it is stepped
        return due

    def _index_due(self, row: EscalationRow) -> None:
        if row.is_open and row.next_due is not None:
            heapq.heappush(self._due, (row.next_due, row.escalation_id, row.incident_id))

    def _free(self, row: EscalationRow, owner: str, now: datetime) -> bool:
        lease = self._leases.get(row.incident_id)
        return lease is None or lease[0] == owner or lease[1] <= now

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        return list(self._events.get(escalation_id, _NO_EVENTS))

    def status_counts(self) -> dict[EscalationStatus, int]:
        """How many escalations (the latest of each incident) have each status."""
        return dict(Counter(row.status for row in self._rows.values()))

    def escalation_index(self, incident_ids: Sequence[str]) -> dict[str, IndexedEscalation]:
        """Incident id -> the status and policy of its latest escalation."""
        rows = self._rows
        return {
            incident_id: IndexedEscalation(rows[incident_id].status, rows[incident_id].policy.id)
            for incident_id in incident_ids
            if incident_id in rows
        }

    def feed_token(self, feed: str) -> str | None:
        """The token of the calendar feed ``feed``, or None before one is made."""
        return self._feed_tokens.get(feed)

    def set_feed_token(self, feed: str, token: str, at: datetime) -> None:
        """Make ``token`` the feed's token (creating or rotating it)."""
        before = self._feed_tokens.get(feed)
        self._feed_tokens[feed] = token
        self.after_rollback(lambda: self._restore_feed(feed, before))

    def _restore_feed(self, feed: str, token: str | None) -> None:
        if token is None:
            self._feed_tokens.pop(feed, None)
        else:
            self._feed_tokens[feed] = token

    def next_round_robin(self, policy_id: str, level: int, size: int) -> int:
        """Where the rotation of ``policy_id``'s ``level`` starts this time (``0 <= result < size``)."""
        if size < 1:
            raise ValueError(f"a rotation needs at least one recipient, got size {size}")
        key = (policy_id, level)
        cursor = self._round_robin.get(key, 0)
        self._round_robin[key] = cursor + 1
        return cursor % size

    # --- outbox ------------------------------------------------------------------------------------------

    def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert notifications that belong to no escalation; returns the new ones."""
        fresh = self._insert(notifications)
        self.after_rollback(lambda: self._remove(fresh))
        return fresh

    def _remove(self, notifications: Sequence[Notification]) -> None:
        """Take back notifications just inserted (their block rolled back)."""
        for notification in notifications:
            key = notification.key
            self._outbox.pop(key, None)
            self._unsettled.pop(key, None)
            keys = self._by_escalation.get(notification.escalation_id)
            if keys is not None and key in keys:
                keys.remove(key)

    def _insert(self, notifications: Sequence[Notification]) -> list[Notification]:
        outbox = self._outbox
        fresh: list[Notification] = []
        for notification in notifications:
            key = notification.key
            if key in outbox:
                continue
            outbox[key] = _Entry(notification)
            self._unsettled[key] = None
            self._by_escalation.setdefault(notification.escalation_id, []).append(key)
            fresh.append(notification)
        return fresh

    def claim(self, key: str, *, now: datetime | None = None, lease_seconds: float | None = None) -> int | None:
        """Take ``key`` for one attempt; returns the attempt number, or None (see ``DeliveryStore.claim``)."""
        entry = self._outbox.get(key)
        if entry is None or not entry.claimable(now):
            return None
        entry.status = _SENDING
        entry.attempts += 1
        entry.next_attempt_at = None
        entry.lease_until = now + timedelta(seconds=lease_seconds) if now is not None and lease_seconds else None
        return entry.attempts

    def finish(self, result: DeliveryResult, *, retry_at: datetime | None = None) -> None:
        """Record the answer to one attempt (see ``DeliveryStore.finish``)."""
        entry = self._outbox.get(result.key)
        if entry is None:
            raise KeyError(f"no notification with key {result.key!r} in the outbox")
        self._log.setdefault(result.key, []).append(result)
        current = entry.status is _SENDING and result.attempts == entry.attempts
        if entry.status is _SENT or (not current and not result.ok):
            return  # already delivered, or an attempt that lost its lease and failed: the newer one counts
        entry.result = result
        entry.lease_until = None
        if result.ok:
            entry.status, entry.next_attempt_at = _SENT, None
        elif retry_at is not None:
            entry.status, entry.next_attempt_at = _FAILED, retry_at
            return
        else:
            entry.status, entry.next_attempt_at = _DEAD, None
            self._dead.append(result.key)
        self._unsettled.pop(result.key, None)

    def pending(self) -> list[Notification]:
        """Notifications never handed to a channel, oldest first."""
        outbox = self._outbox
        return [outbox[key].notification for key in self._unsettled if outbox[key].status is _PENDING]

    def due_deliveries(self, now: datetime, limit: int | None = None) -> list[Notification]:
        """Pending notifications, retries whose time has come and expired leases, oldest first."""
        outbox = self._outbox
        due = [outbox[key].notification for key in self._unsettled if outbox[key].claimable(now)]
        return due if limit is None else due[:limit]

    def next_delivery_at(self) -> datetime | None:
        """The earliest retry time or lease end among failed and sending notifications, or summary of folded
        pages."""
        summary = self._next_summary_at()
        times = [summary] if summary is not None else []
        for key in self._unsettled:
            entry = self._outbox[key]
            when = entry.next_attempt_at if entry.status is _FAILED else entry.lease_until
            if when is not None:
                times.append(when)
        return min(times, default=None)

    def delivery(self, key: str) -> Delivery | None:
        """The outbox entry with ``key``, or None."""
        entry = self._outbox.get(key)
        return entry.delivery() if entry is not None else None

    def deliveries(self, escalation_id: str) -> list[Delivery]:
        """The outbox entries of one escalation, in the order they were written."""
        outbox = self._outbox
        return [outbox[key].delivery() for key in self._by_escalation.get(escalation_id, ())]

    def all_deliveries(self) -> list[Delivery]:
        """Every outbox entry, in the order written (for tests and simulations)."""
        return [entry.delivery() for entry in self._outbox.values()]

    def dead_letters(self, limit: int | None = None) -> list[Delivery]:
        """Notifications given up on, the most recently given up first."""
        keys = list(reversed(self._dead))
        return [self._outbox[key].delivery() for key in (keys if limit is None else keys[:limit])]

    def delivery_log(self, key: str) -> list[DeliveryResult]:
        """Every answer recorded for ``key``, oldest first."""
        return list(self._log.get(key, ()))

    def disable_endpoint(self, channel: str, endpoint: str, reason: str, at: datetime) -> None:
        """Remember that ``endpoint`` of ``channel`` asked for no more messages."""
        self._disabled.setdefault((channel, endpoint), reason)

    def disabled_endpoints(self) -> dict[tuple[str, str], str]:
        """(channel, endpoint) -> why it was disabled."""
        return dict(self._disabled)


class InMemoryIncidentStore:
    """Incidents by id, open ones by dedup key, repeat counters, and every saved version.

    :param clock: dates the saved versions (default: the system clock).
    :param unit: the store whose atomic blocks this store's writes belong to (an :class:`InMemoryStore`):
        a block that rolls back undoes the saves and repeat counts made inside it.
    """

    def __init__(self, clock: Clock | None = None, *, unit: UnitOfWork | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._unit = unit
        self._incidents: dict[str, Incident] = {}
        self._open_by_dedup: dict[str, str] = {}
        self._duplicates: dict[str, int] = {}
        self._keys: dict[str, str] = {}  # Idempotency-Key -> the incident its request raised
        self._history: dict[str, list[IncidentChange]] = {}

    def get(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        return self._incidents.get(incident_id)

    def save(self, incident: Incident) -> None:
        """Insert or replace; keeps the dedup index in step with the incident's state."""
        previous = self._incidents.get(incident.id)
        touched = {
            key: self._open_by_dedup.get(key) for key in (previous and previous.dedup_key, incident.dedup_key) if key
        }
        if previous is not None and previous.dedup_key and self._open_by_dedup.get(previous.dedup_key) == incident.id:
            del self._open_by_dedup[previous.dedup_key]
        self._incidents[incident.id] = incident
        if incident.dedup_key and incident.state.is_open:
            self._open_by_dedup[incident.dedup_key] = incident.id
        history = self._history.setdefault(incident.id, [])
        history.append(IncidentChange(at=self._clock.now(), incident=incident))
        if self._unit is not None:

            def undo() -> None:
                if previous is None:
                    self._incidents.pop(incident.id, None)
                else:
                    self._incidents[incident.id] = previous
                for key, held in touched.items():
                    if held is None:
                        self._open_by_dedup.pop(key, None)
                    else:
                        self._open_by_dedup[key] = held
                history.pop()

            self._unit.after_rollback(undo)

    def find_open(self, dedup_key: str) -> Incident | None:
        """The open incident with this dedup key, or None."""
        incident_id = self._open_by_dedup.get(dedup_key)
        return None if incident_id is None else self._incidents[incident_id]

    def add_duplicate(self, incident_id: str) -> int:
        """Count one more repeat; returns the new count."""
        count = self._duplicates.get(incident_id, 0) + 1
        self._duplicates[incident_id] = count
        if self._unit is not None:
            self._unit.after_rollback(lambda: self._duplicates.__setitem__(incident_id, count - 1))
        return count

    def remember_key(self, key: str, incident_id: str) -> None:
        """Remember that the request with Idempotency-Key ``key`` raised ``incident_id``."""
        if key not in self._keys:
            self._keys[key] = incident_id
            if self._unit is not None:
                self._unit.after_rollback(lambda: self._keys.pop(key, None))

    def recall_key(self, key: str) -> str | None:
        """The incident the request with Idempotency-Key ``key`` raised, or None."""
        return self._keys.get(key)

    def duplicates(self, incident_id: str) -> int:
        """How many repeats were folded into the incident."""
        return self._duplicates.get(incident_id, 0)

    def history(self, incident_id: str) -> list[IncidentChange]:
        """Every saved version of the incident, oldest first."""
        return list(self._history.get(incident_id, ()))

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """Every incident's id (the open ones', with ``open_only``)."""
        return {key for key, incident in self._incidents.items() if not open_only or incident.state.is_open}

    def list_incidents(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Incident]:
        """Incidents, newest first; see ``IncidentStore.list_incidents``."""
        return [incident for _, incident in self.scan_incidents(limit=limit, open_only=open_only, skip=offset)]

    def scan_incidents(
        self, *, before: int | None = None, limit: int = 100, open_only: bool = False, skip: int = 0
    ) -> list[tuple[int, Incident]]:
        """``(position, incident)`` newest first; see ``IncidentStore.scan_incidents`` (a position is the
        incident's place, from 1, in the order first saved)."""
        incidents = self._incidents
        last = len(incidents) if before is None else min(before - 1, len(incidents))
        ids = list(itertools.islice(incidents, last))
        found = (
            (position, incidents[ids[position - 1]])
            for position in range(last, 0, -1)
            if not open_only or incidents[ids[position - 1]].state.is_open
        )
        return list(itertools.islice(found, skip, skip + limit))

    def state_counts(self) -> dict[IncidentState, int]:
        """How many incidents are in each state."""
        return dict(Counter(incident.state for incident in self._incidents.values()))

    def all(self) -> list[Incident]:
        """Every incident, in the order first saved."""
        return list(self._incidents.values())
