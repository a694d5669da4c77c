"""The storage interfaces the engine and the incident processor write through.

The engine never touches a database: it hands a store one :class:`EscalationRow` per state transition,
together with the notifications and journal events that transition creates, and the store writes them in
ONE transaction. Rows carry a ``version`` for compare-and-set, so two instances sharing a store never both
apply a transition. The outbox table keeps every notification by its idempotency key: inserting a key that
is already there does nothing, which is what makes "at most once per key" hold across restarts and
instances. :mod:`tocsin.store.memory` implements these protocols in memory, :mod:`tocsin.store.sqlite.store` in a
SQLite file; a PostgreSQL store for several instances implements the same methods (see docs/storage.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import NamedTuple, Protocol

import attrs

from tocsin.models import (
    Delivery,
    DeliveryResult,
    EscalationEvent,
    EscalationPolicy,
    EscalationStatus,
    Incident,
    IncidentState,
    Notification,
    Recipient,
)

__all__ = [
    "OPEN_STATUSES",
    "DeliveryStore",
    "EscalationRow",
    "EscalationStore",
    "IncidentChange",
    "IncidentStore",
    "IndexedEscalation",
    "OpenEscalation",
    "SmartRow",
]

# Open: not resolved or cancelled. A completed escalation (every level fired, nobody answered) is exhausted,
# and still open: it can be acknowledged, escalated, resolved or cancelled, and ``on_exhausted`` may page again.
OPEN_STATUSES = frozenset({EscalationStatus.ACTIVE, EscalationStatus.ACKNOWLEDGED, EscalationStatus.COMPLETED})


@attrs.frozen(kw_only=True)
class SmartRow:
    """The part of a stored escalation only smart escalation uses (instants in microseconds, as in the row)."""

    paged_level: int = -1  # the last level not skipped, what an acknowledgement answers (-1: the row's level)
    snoozed_until: int | None = None  # acknowledged and snoozed: re-triggers at this instant
    awaiting: tuple[str, ...] = ()  # ack_mode all: the people paged at the current level
    acks: tuple[str, ...] = ()  # ack_mode all: those of them who acknowledged
    rotation: tuple[Recipient, ...] = ()  # round robin: the recipients still to page at the current level
    rotation_step: int = 0  # round robin: how many times the current level moved on


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
    smart: SmartRow | None = None  # what smart escalation keeps (None: a plain escalation, not snoozed)
    exhausted_pages: int = 0  # completed: how many times ``on_exhausted`` paged since it became exhausted

    @property
    def incident_id(self) -> str:
        """The incident this escalation pages for."""
        return self.incident.id

    @property
    def is_open(self) -> bool:
        """True while the escalation is active, acknowledged or completed (exhausted, still unanswered)."""
        return self.status in OPEN_STATUSES


class IndexedEscalation(NamedTuple):
    """What the indexes say about an incident's latest escalation: its status and the id of its policy."""

    status: EscalationStatus
    policy_id: str


@attrs.frozen(slots=True)
class OpenEscalation:
    """What an engine needs of an open escalation before it acts on it: which one it is, its version, and
    when it is next due. A restart holds these and reads the whole row when the escalation is due or acted
    on, so it costs a few index columns per open escalation, not its documents."""

    incident_id: str
    escalation_id: str
    version: int
    next_due: int | None


@attrs.frozen(kw_only=True)
class IncidentChange:
    """One saved version of an incident and when it was saved (by the store's clock)."""

    at: datetime
    incident: Incident


class DeliveryStore(Protocol):
    """The notification outbox as the delivery workers see it: claims with a lease, answers, retries.

    A notification moves ``pending -> sending -> sent``; a failed attempt makes it ``failed`` with a
    ``next_attempt_at``, after which it can be claimed again; when no attempt is left (or none can help) it
    is ``dead`` (a dead letter). A claim holds for a lease: a sender that crashed mid-send leaves a
    ``sending`` row whose lease runs out, and the notification is claimed and sent again under the same
    key, so delivery is at least once at the transport and exactly once as seen by a receiver that drops
    duplicates by the key (the webhook ``webhook-id``).
    """

    def claim(self, key: str, *, now: datetime | None = None, lease_seconds: float | None = None) -> int | None:
        """Take the notification ``key`` for one attempt; returns the attempt's number (1 for the first), or
        None when it cannot be taken now (sent, dead, held by a sender whose lease still runs, or a retry
        whose time has not come).

        A pending notification can always be taken; a failed one once ``now`` reaches its next attempt; a
        ``sending`` one only once ``now`` is past its lease. ``lease_seconds`` (with ``now``) sets the lease.
        """
        ...

    def finish(self, result: DeliveryResult, *, retry_at: datetime | None = None) -> None:
        """Record the answer to attempt ``result.attempts`` of ``result.key`` and append it to the delivery log.

        ``result.ok``: sent. Otherwise ``retry_at`` schedules the next attempt (status failed); without it
        the notification is dead. The answer of an attempt that lost its lease to a later one only counts
        when it is a success.
        """
        ...

    def pending(self) -> list[Notification]:
        """Notifications written but never handed to a channel, oldest first."""
        ...

    def due_deliveries(self, now: datetime, limit: int | None = None) -> list[Notification]:
        """Notifications that may be attempted at ``now``: pending ones, failed ones whose retry time has
        come, and ``sending`` ones whose lease ran out (a crashed sender); oldest first."""
        ...

    def next_delivery_at(self) -> datetime | None:
        """The earliest time a failed notification's retry, a running lease or a contact's summary of folded
        pages comes due; None: nothing waits."""
        ...

    def delivery(self, key: str) -> Delivery | None:
        """The outbox entry with ``key``, or None."""
        ...

    def deliveries(self, escalation_id: str) -> list[Delivery]:
        """The outbox entries of one escalation, in the order they were written."""
        ...

    def dead_letters(self, limit: int | None = None) -> list[Delivery]:
        """Notifications given up on (status dead), the most recently given up first."""
        ...

    def delivery_log(self, key: str) -> list[DeliveryResult]:
        """Every answer recorded for ``key``, one per attempt, oldest first."""
        ...

    def disable_endpoint(self, channel: str, endpoint: str, reason: str, at: datetime) -> None:
        """Remember that ``endpoint`` of ``channel`` asked for no more messages (HTTP 410)."""
        ...

    def disabled_endpoints(self) -> dict[tuple[str, str], str]:
        """(channel, endpoint) -> the reason it was disabled."""
        ...

    def take_slot(
        self, notification: Notification, endpoint: str, *, now: datetime, limit: int, window_seconds: float
    ) -> datetime | None:
        """Rate limit one send of ``notification`` (claimed) to ``endpoint`` of its channel, in one transaction.

        When fewer than ``limit`` messages went to that contact in the ``window_seconds`` before ``now`` (or this
        key already has its slot: a retry), the send is recorded and None returned. Otherwise the notification
        is *folded*: status ``folded`` with a result saying so, kept for the contact's next summary, journalled
        as ``rate_limited`` on its escalation; returns when that summary may go (when a slot frees).
        """
        ...

    def due_summaries(self, now: datetime) -> list[tuple[str, str]]:
        """The contacts ``(channel, endpoint)`` with folded pages whose summary may go at ``now``."""
        ...

    def summarize(
        self,
        channel: str,
        endpoint: str,
        *,
        now: datetime,
        limit: int | None,
        window_seconds: float,
        build: Callable[[list[Notification], datetime], Notification | None],
    ) -> Notification | None:
        """In one transaction: if the contact has a free slot (``limit`` None: no limit), ``build(pages, now)``
        one summary of the pages folded for it (oldest first), insert it into the outbox holding that slot, and
        mark the pages summarized; returns the summary. ``build`` returning None settles the pages with no
        summary and no slot taken (nothing of them is worth sending: their incidents were resolved meanwhile).
        Without a free slot (another sender took it), the summary waits for the next one and None is returned;
        None too when nothing waits."""
        ...


class EscalationStore(DeliveryStore, Protocol):
    """Escalation rows, their journal, and the notification outbox.

    Every write joins the current atomic block (:meth:`atomic`); outside one, each method is its own
    transaction. An incident store on the same database joins the same blocks, so raising an incident,
    resolving it, or firing a level is durable as a whole or not at all (see :mod:`tocsin.store.unit`).
    """

    def atomic(self) -> AbstractContextManager[None]:
        """One unit of work: the outermost block commits when it ends, and rolls back if it raises; a block
        inside another joins it (and undoes only itself if it raises)."""
        ...

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the outermost atomic block has committed (at once, outside a block)."""
        ...

    def after_rollback(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` if the current atomic block rolls back (never, outside a block)."""
        ...

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id`` (open or ended), or None."""
        ...

    def load_open(self) -> list[EscalationRow]:
        """Every open (active, acknowledged or exhausted) escalation, in the order they started."""
        ...

    def open_index(self) -> list[OpenEscalation]:
        """Every open (active, acknowledged or exhausted) escalation as an :class:`OpenEscalation`, in the order they
        started, read without the rows' documents (what an engine picks up when it starts)."""
        ...

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """The incidents that have an escalation (with ``open_only``: an open one, exhausted included), without
        reading the escalations themselves (the reconciler compares these with the open incidents)."""
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

    def claim_due(self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100) -> list[EscalationRow]:
        """Open escalations due at or before ``now`` that no other owner holds a lease on, leased to ``owner``.

        For instances sharing a store: each takes its share of the due work (a database would use
        ``SELECT ... FOR UPDATE SKIP LOCKED``); the version on each row still decides which transition wins.
        """
        ...

    def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert notifications that belong to no escalation (routing ``notify`` messages); returns new ones."""
        ...

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        ...

    def use_once(self, key: str, *, at: datetime, expires_at: datetime) -> datetime | None:
        """Record that the one-time credential ``key`` (an action link's token, a signed request) was used at
        ``at``: None when this is its first use, else when it was first used. Joins the current atomic block,
        so a block that rolls back (the action changed nothing) leaves it unused. Entries may be forgotten once
        ``expires_at`` has passed (the credential is refused anyway by then)."""
        ...

    def next_round_robin(self, policy_id: str, level: int, size: int) -> int:
        """Where a round-robin level's rotation starts this time: ``0 <= result < size``.

        One cursor per (policy, level), moved on by one at each call, so successive escalations start with
        successive recipients; a durable store keeps it across restarts and shares it between instances.
        """
        ...

    def feed_token(self, feed: str) -> str | None:
        """The token of the calendar feed ``feed`` (``schedule:ID``, ``user:ADDRESS``), or None before one is made."""
        ...

    def set_feed_token(self, feed: str, token: str, at: datetime) -> None:
        """Make ``token`` the feed's token from now on (creating or rotating it: the old one stops working)."""
        ...

    def status_counts(self) -> dict[EscalationStatus, int]:
        """How many escalations (the latest of each incident) have each status; read by /metrics."""
        ...

    def escalation_index(self, incident_ids: Sequence[str]) -> dict[str, IndexedEscalation]:
        """Incident id -> the status and policy of its latest escalation, for those of ``incident_ids`` that have
        one, read from the index columns without the rows' documents (the incident lists' filters, the API's and the
        web console's, test a batch of incidents at a time)."""
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

    def remember_key(self, key: str, incident_id: str) -> None:
        """Remember that the request with Idempotency-Key ``key`` raised ``incident_id`` (a key already
        remembered keeps its first incident)."""
        ...

    def recall_key(self, key: str) -> str | None:
        """The incident the request with Idempotency-Key ``key`` raised, or None."""
        ...

    def history(self, incident_id: str) -> list[IncidentChange]:
        """Every version of the incident that was saved, oldest first (the incident's audit trail)."""
        ...

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """The ids of every incident (with ``open_only``: of the open ones), without reading the incidents."""
        ...

    def list_incidents(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Incident]:
        """Incidents, newest first (in the reverse of the order each was first saved): ``limit`` of them after
        skipping ``offset``; ``open_only`` keeps those not Resolved or Closed. The API lists with this."""
        ...

    def scan_incidents(
        self, *, before: int | None = None, limit: int = 100, open_only: bool = False, skip: int = 0
    ) -> list[tuple[int, Incident]]:
        """``(position, incident)``, newest first: ``limit`` of them after skipping ``skip``, only those whose
        position is below ``before`` when given. Positions grow in the order incidents were first saved and
        never change, so the last position of one page is where the next page starts (a cursor)."""
        ...

    def state_counts(self) -> dict[IncidentState, int]:
        """How many incidents are in each state (states with none may be left out); read by /metrics."""
        ...
