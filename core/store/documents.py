"""What the SQL escalation stores share: rows read back as documents, policy snapshots stored once per version,
and the snapshots a row holds remembered so that a transition writes only what changed.

:class:`EscalationDocuments` is the half of :class:`~tocsin.store.sqlite.store.SQLiteStore` and
:class:`~tocsin.store.postgres.store.PostgresStore` that does not depend on how the database takes a write: the
unit-of-work methods (handed to the database), the reads of rows, journals and counts, and the policy
snapshot table (``policies``, keyed by the digest of a snapshot's JSON). The SQL is the same on both; only the
parameter marker (``?`` or ``%s``) differs, which a store names in :attr:`EscalationDocuments.MARK`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Self

from cattrs.gen import make_dict_unstructure_fn, override

from tocsin.instants import from_micros, to_micros
from tocsin.models import (
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    EscalationEvent,
    EscalationPolicy,
    EscalationStatus,
    Incident,
    Notification,
)
from tocsin.store.errors import StoreError
from tocsin.store.interfaces import OPEN_STATUSES, EscalationRow, IndexedEscalation, OpenEscalation

__all__ = ["OPEN", "ROW_COLUMNS", "EscalationDocuments", "OutboxDocuments", "policy_digest"]

_IDS_PER_QUERY = 500  # incident ids bound in one IN (...) query

OPEN = "status IN ('active', 'acknowledged', 'completed')"
ROW_COLUMNS = "escalation_id, policy_seq, incident, state"
_CACHED_POLICIES = 1024
_CACHED_NOTIFICATIONS = 8192  # a key's notification never changes once written
_DELIVERY_COLUMNS = "key, notification, status, result, attempts, next_attempt_at"


def policy_digest(text: str) -> str:
    """The key a policy snapshot's JSON is stored under: equal snapshots share one row."""
    return hashlib.sha256(text.encode()).hexdigest()


class EscalationDocuments:
    """The shared half of a SQL escalation store (see the module's docs); call :meth:`_init_documents` first."""

    MARK = "?"  # the database driver's parameter marker
    database: Any  # the store's SQLiteDatabase or PostgresDatabase: the methods used here are on both

    def _init_documents(self) -> None:
        self._written: dict[str, tuple[EscalationPolicy, Incident]] = {}  # open escalations' stored snapshots
        self._policies: dict[int, EscalationPolicy] = {}  # stored snapshot (policies.seq) -> one shared object
        self._policy_seqs: dict[int, tuple[EscalationPolicy, int]] = {}  # id(policy) -> (policy, its seq)
        self._unstructure_state = make_dict_unstructure_fn(
            EscalationRow,
            self.database.converter,
            _cattrs_omit_if_default=True,
            policy=override(omit=True),
            incident=override(omit=True),
        )

    # --- the unit of work ---------------------------------------------------------------------------------

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """One unit of work on the database (escalations, outbox and incidents alike); see :mod:`tocsin.store.unit`."""
        context: contextlib.AbstractContextManager[None] = self.database.atomic()
        return context

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the outermost atomic block commits (now, outside one)."""
        self.database.after_commit(callback)

    def after_rollback(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` if the current atomic block rolls back."""
        self.database.after_rollback(callback)

    @property
    def path(self) -> str:
        """The database file, or the database as it may be shown (without a password)."""
        return str(self.database.path)

    def close(self) -> None:
        """Close the database."""
        self.database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------------------------

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id``, or None."""
        rows = self._rows(
            f"SELECT {ROW_COLUMNS} FROM escalations WHERE incident_id = {self.MARK} ORDER BY seq DESC LIMIT 1",
            (incident_id,),
        )
        return rows[0] if rows else None

    def load_open(self) -> list[EscalationRow]:
        """Every open escalation (active, acknowledged or completed), in the order they started."""
        return self._rows(f"SELECT {ROW_COLUMNS} FROM escalations WHERE {OPEN} ORDER BY seq", ())

    def open_index(self) -> list[OpenEscalation]:
        """Every open escalation's ids, version and due time, from the indexed columns."""
        with self.database.reading() as connection:
            found = connection.execute(
                f"SELECT incident_id, escalation_id, version, next_due FROM escalations WHERE {OPEN} ORDER BY seq"
            ).fetchall()
        return [OpenEscalation(*columns) for columns in found]

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """The incidents with an escalation (an open one, with ``open_only``), read from the indexes alone."""
        query = (
            f"SELECT incident_id FROM escalations WHERE {OPEN}"
            if open_only
            else "SELECT DISTINCT incident_id FROM escalations"
        )
        with self.database.reading() as connection:
            return {incident_id for (incident_id,) in connection.execute(query).fetchall()}

    def escalation_index(self, incident_ids: Sequence[str]) -> dict[str, IndexedEscalation]:
        """Incident id -> the status and policy of its latest escalation (read from the index columns)."""
        found: dict[str, IndexedEscalation] = {}
        with self.database.reading() as connection:
            for start in range(0, len(incident_ids), _IDS_PER_QUERY):
                chunk = tuple(incident_ids[start : start + _IDS_PER_QUERY])
                marks = ", ".join([self.MARK] * len(chunk))
                rows = connection.execute(
                    "SELECT e.incident_id, e.status, p.policy_id FROM escalations AS e "
                    f"JOIN policies AS p ON p.seq = e.policy_seq WHERE e.incident_id IN ({marks}) ORDER BY e.seq",
                    chunk,
                ).fetchall()
                for incident_id, status, policy_id in rows:  # the latest of each incident comes last and wins
                    found[incident_id] = IndexedEscalation(EscalationStatus(status), policy_id)
        return found

    def status_counts(self) -> dict[EscalationStatus, int]:
        """How many escalations (the latest of each incident) have each status."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT status, COUNT(*) FROM escalations AS e "
                "WHERE seq = (SELECT MAX(seq) FROM escalations WHERE incident_id = e.incident_id) GROUP BY status"
            ).fetchall()
        return {EscalationStatus(status): int(count) for status, count in rows}

    def feed_token(self, feed: str) -> str | None:
        """The token of the calendar feed ``feed``, or None before one is made."""
        with self.database.reading() as connection:
            found = connection.execute(f"SELECT token FROM feed_tokens WHERE feed = {self.MARK}", (feed,)).fetchone()
        return str(found[0]) if found is not None else None

    def set_feed_token(self, feed: str, token: str, at: datetime) -> None:
        """Make ``token`` the feed's token (creating or rotating it)."""
        mark = self.MARK
        with self.database.transaction() as connection:
            connection.execute(
                f"INSERT INTO feed_tokens (feed, token, at) VALUES ({mark}, {mark}, {mark}) "
                "ON CONFLICT (feed) DO UPDATE SET token = excluded.token, at = excluded.at",
                (feed, token, to_micros(at)),
            )

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        with self.database.reading() as connection:
            rows = connection.execute(
                f"SELECT event FROM journal WHERE escalation_id = {self.MARK} ORDER BY seq", (escalation_id,)
            ).fetchall()
        load = self.database.load
        return [load(text, EscalationEvent, f"a journal event of {escalation_id!r}") for (text,) in rows]

    # --- rows and snapshots --------------------------------------------------------------------------------

    def _state(self, row: EscalationRow) -> str:
        """The row's own document: everything but the policy snapshot and the incident."""
        return str(self.database.dump_data(self._unstructure_state(row)))

    def _snapshots_to_write(self, row: EscalationRow) -> tuple[bool, bool]:
        """Whether the stored row's (policy, incident) differ from ``row``'s, as far as this store knows."""
        written = self._written.get(row.escalation_id)
        return written is None or written[0] is not row.policy, written is None or written[1] is not row.incident

    def _track_written(self, row: EscalationRow) -> None:
        """Inside a commit of ``row``: remember its snapshots once the outermost block has committed."""
        database = self.database
        if row.status in OPEN_STATUSES:
            database.after_commit(lambda: self._written.__setitem__(row.escalation_id, (row.policy, row.incident)))
        else:
            database.after_commit(lambda: self._written.pop(row.escalation_id, None))
        database.after_rollback(lambda: self._written.pop(row.escalation_id, None))

    def _policy_seq(self, connection: Any, policy: EscalationPolicy) -> int:
        """Where ``policy``'s snapshot is stored, storing it first if this version of it is not yet there."""
        known = self._policy_seqs.get(id(policy))
        if known is not None and known[0] is policy:
            return known[1]
        text = self.database.dump(policy)
        digest = policy_digest(text)
        mark = self.MARK
        connection.execute(
            f"INSERT INTO policies (digest, policy_id, policy) VALUES ({mark}, {mark}, {mark}) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, policy.id, text),
        )
        (seq,) = connection.execute(f"SELECT seq FROM policies WHERE digest = {mark}", (digest,)).fetchone()
        # Known to be stored only once the outermost block commits (a rollback takes the new row with it).
        self.database.after_commit(lambda: self._remember_policy(policy, int(seq)))
        return int(seq)

    def _remember_policy(self, policy: EscalationPolicy, seq: int) -> None:
        if len(self._policy_seqs) > _CACHED_POLICIES:
            self._policy_seqs.clear()
        self._policy_seqs[id(policy)] = (policy, seq)

    def _policy(self, seq: int, where: str) -> EscalationPolicy:
        snapshot = self._policies.get(seq)
        if snapshot is None:
            with self.database.reading() as connection:
                found = connection.execute(f"SELECT policy FROM policies WHERE seq = {self.MARK}", (seq,)).fetchone()
            if found is None:
                path = self.database.path
                raise StoreError(f"store {path}: {where} refers to policy snapshot {seq}, which is missing")
            snapshot = self.database.load(found[0], EscalationPolicy, f"the policy snapshot of {where}")
            if len(self._policies) > _CACHED_POLICIES:
                self._policies.clear()
            self._policies[seq] = snapshot  # rows that share a snapshot share one policy object
            self._remember_policy(snapshot, seq)
        return snapshot

    def _rows(self, sql: str, parameters: tuple[Any, ...]) -> list[EscalationRow]:
        with self.database.reading() as connection:
            found = connection.execute(sql, parameters).fetchall()
        return [self._row(*columns) for columns in found]

    def _row(self, escalation_id: str, policy_seq: int, incident: str, state: str) -> EscalationRow:
        database = self.database
        where = f"escalation {escalation_id!r}"
        snapshot = self._policy(policy_seq, where)
        try:
            data = json.loads(state)
            data["incident"] = json.loads(incident)
        except ValueError as exc:
            raise StoreError(f"store {database.path}: {where} holds invalid JSON: {exc}") from None
        data["policy"] = snapshot
        row: EscalationRow = database.structure(data, EscalationRow, where)
        if row.is_open:
            self._written[escalation_id] = (row.policy, row.incident)
        return row


class OutboxDocuments:
    """The reading half of a SQL outbox, shared by SQLite and PostgreSQL (the parameter marker aside), with the
    notifications written or read lately kept structured; call :meth:`_init_outbox` first."""

    MARK = "?"
    database: Any

    def _init_outbox(self) -> None:
        self._notes: dict[str, Notification] = {}  # key -> notification, written or read lately

    def delivery(self, key: str) -> Delivery | None:
        """The outbox entry with ``key``, or None."""
        found = self._deliveries(f"SELECT {_DELIVERY_COLUMNS} FROM outbox WHERE key = {self.MARK}", (key,))
        return found[0] if found else None

    def deliveries(self, escalation_id: str) -> list[Delivery]:
        """The outbox entries of one escalation, in the order they were written."""
        return self._deliveries(
            f"SELECT {_DELIVERY_COLUMNS} FROM outbox WHERE escalation_id = {self.MARK} ORDER BY seq", (escalation_id,)
        )

    def all_deliveries(self) -> list[Delivery]:
        """Every outbox entry, in the order written."""
        return self._deliveries(f"SELECT {_DELIVERY_COLUMNS} FROM outbox ORDER BY seq", ())

    def dead_letters(self, limit: int | None = None) -> list[Delivery]:
        """Notifications given up on, the most recently given up first."""
        return self._deliveries(
            f"SELECT {_DELIVERY_COLUMNS} FROM outbox WHERE status = 'dead' ORDER BY dead_seq DESC"
            + (f" LIMIT {self.MARK}" if limit is not None else ""),
            (limit,) if limit is not None else (),
        )

    def delivery_log(self, key: str) -> list[DeliveryResult]:
        """Every answer recorded for ``key``, oldest first."""
        with self.database.reading() as connection:
            rows = connection.execute(
                f"SELECT result FROM delivery_log WHERE key = {self.MARK} ORDER BY seq", (key,)
            ).fetchall()
        load = self.database.load
        return [load(text, DeliveryResult, f"delivery log of {key!r}") for (text,) in rows]

    def disabled_endpoints(self) -> dict[tuple[str, str], str]:
        """(channel, endpoint) -> why it was disabled."""
        with self.database.reading() as connection:
            rows = connection.execute("SELECT channel, endpoint, reason FROM disabled_endpoints").fetchall()
        return {(channel, endpoint): reason for channel, endpoint, reason in rows}

    def _remember(self, notification: Notification) -> Notification:
        notes = self._notes
        if len(notes) >= _CACHED_NOTIFICATIONS:
            notes.clear()
        notes[notification.key] = notification
        return notification

    def _notification(self, key: str, text: str) -> Notification:
        found = self._notes.get(key)
        if found is None:
            found = self._remember(self.database.load(text, Notification, f"outbox notification {key!r}"))
        return found

    def _notifications(self, sql: str, parameters: tuple[Any, ...]) -> list[Notification]:
        with self.database.reading() as connection:
            rows = connection.execute(sql, parameters).fetchall()
        return [self._notification(key, text) for key, text in rows]

    def _deliveries(self, sql: str, parameters: tuple[Any, ...]) -> list[Delivery]:
        with self.database.reading() as connection:
            rows = connection.execute(sql, parameters).fetchall()
        load = self.database.load
        return [
            Delivery(
                notification=self._notification(key, notification),
                status=DeliveryStatus(status),
                result=load(result, DeliveryResult, f"the delivery result of {key!r}") if result is not None else None,
                attempts=attempts,
                next_attempt_at=from_micros(next_at) if next_at is not None else None,
            )
            for key, notification, status, result, attempts, next_at in rows
        ]
