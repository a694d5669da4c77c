"""The PostgreSQL store: escalations, their journal, the outbox and incidents in one database, for one or
several tocsin instances.

:class:`PostgresStore` implements :class:`~tocsin.store.interfaces.EscalationStore` exactly as the SQLite store
does (the same conformance suite runs on both). What differs is how instances on one database are kept
apart: ``commit`` locks the incident's latest escalation row (``SELECT ... FOR UPDATE``) and writes only on
the version it expects (a compare-and-set that no paused or partitioned instance can get past), a unique
index keeps one open escalation per incident, and ``claim_due`` leases due escalations with ``FOR UPDATE SKIP
LOCKED`` in one statement, so instances claiming together take disjoint sets.

```python
store = PostgresStore("postgresql://tocsin@db.internal/tocsin", plugins.registry, clock=clock)
engine = EscalationEngine(plugins, store, clock=clock, config=config)
```
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from cattrs.gen import make_dict_unstructure_fn, override

from tocsin.clock import Clock
from tocsin.instants import to_micros
from tocsin.models import EscalationEvent, EscalationPolicy, EscalationStatus, Incident, Notification
from tocsin.registry import Registry
from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.interfaces import OPEN_STATUSES, EscalationRow, OpenEscalation
from tocsin.store.postgres.db import PostgresDatabase
from tocsin.store.postgres.incidents import PostgresIncidentStore
from tocsin.store.postgres.outbox import PostgresOutbox
from tocsin.store.sqlite.schema import policy_digest
from tocsin.store.unit import Callback

__all__ = ["PostgresStore"]

_OPEN = "status IN ('active', 'acknowledged')"
_ROW_COLUMNS = "escalation_id, policy_seq, incident, state"
_OPEN_VALUES = frozenset(status.value for status in OPEN_STATUSES)


class PostgresStore(PostgresOutbox):
    """Escalation rows, journals, the outbox (and, as ``incidents``, the incidents) in a PostgreSQL database.

    :param dsn: a libpq connection string or URI.
    :param registry: the plugin registry (documents hold plugin-provided targets and contacts).
    :param clock: the clock the incident history is stamped with (give the engine's).
    :param migrate_schema: apply pending migrations on open (``False``: refuse a database that is behind,
        for a schema managed with ``tocsin db migrate``).
    :param pool_size: the most connections this process holds.
    """

    def __init__(
        self,
        dsn: str,
        registry: Registry,
        *,
        clock: Clock | None = None,
        migrate_schema: bool = True,
        pool_size: int = 4,
        connect_timeout: float = 5.0,
    ) -> None:
        database = PostgresDatabase(
            dsn,
            registry,
            clock=clock,
            migrate_schema=migrate_schema,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
        )
        super().__init__(database)
        self.incidents = PostgresIncidentStore(self.database)
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

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """One unit of work on the database (escalations, outbox and incidents alike)."""
        return self.database.atomic()

    def after_commit(self, callback: Callback) -> None:
        """Run ``callback`` once the outermost atomic block commits (now, outside one)."""
        self.database.after_commit(callback)

    def after_rollback(self, callback: Callback) -> None:
        """Run ``callback`` if the current atomic block rolls back."""
        self.database.after_rollback(callback)

    @property
    def path(self) -> str:
        """The database, as it may be shown (without a password)."""
        return self.database.path

    def close(self) -> None:
        """Close the connections."""
        self.database.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- escalations -------------------------------------------------------------------------------------

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id``, or None."""
        rows = self._rows(
            f"SELECT {_ROW_COLUMNS} FROM escalations WHERE incident_id = %s ORDER BY seq DESC LIMIT 1", (incident_id,)
        )
        return rows[0] if rows else None

    def load_open(self) -> list[EscalationRow]:
        """Every active or acknowledged escalation, in the order they started."""
        return self._rows(f"SELECT {_ROW_COLUMNS} FROM escalations WHERE {_OPEN} ORDER BY seq", ())

    def open_index(self) -> list[OpenEscalation]:
        """Every active or acknowledged escalation's ids, version and due time, from the indexed columns."""
        with self.database.reading() as connection:
            found = connection.execute(
                f"SELECT incident_id, escalation_id, version, next_due FROM escalations WHERE {_OPEN} ORDER BY seq"
            ).fetchall()
        return [OpenEscalation(*columns) for columns in found]

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """The incidents with an escalation (an open one, with ``open_only``), read from the indexes alone."""
        query = (
            f"SELECT incident_id FROM escalations WHERE {_OPEN}"
            if open_only
            else "SELECT DISTINCT incident_id FROM escalations"
        )
        with self.database.reading() as connection:
            return {incident_id for (incident_id,) in connection.execute(query).fetchall()}

    def commit(
        self,
        row: EscalationRow,
        *,
        expected_version: int | None,
        notifications: Sequence[Notification] = (),
        events: Sequence[EscalationEvent] = (),
    ) -> list[Notification]:
        """Write the row, the new notifications and the events in one transaction; see ``EscalationStore.commit``."""
        database = self.database
        state = database.dump_data(self._unstructure_state(row))
        written = self._written.get(row.escalation_id)
        with database.transaction() as connection:
            held = connection.execute(  # locked: a concurrent commit on this incident waits for this one
                "SELECT escalation_id, version, status FROM escalations WHERE incident_id = %s "
                "ORDER BY seq DESC LIMIT 1 FOR UPDATE",
                (row.incident_id,),
            ).fetchone()
            if expected_version is None:
                if held is not None and (held[2] in _OPEN_VALUES or held[0] == row.escalation_id):
                    raise StaleStateError(f"incident {row.incident_id!r}: escalation {held[0]!r} is already stored")
                self._insert_row(connection, row, state)
            else:
                if held is None or held[0] != row.escalation_id or held[1] != expected_version:
                    found = "nothing" if held is None else f"{held[0]!r} version {held[1]}"
                    raise StaleStateError(
                        f"incident {row.incident_id!r}: expected escalation {row.escalation_id!r} version "
                        f"{expected_version}, found {found}"
                    )
                snapshots = ""
                values: list[Any] = [row.status.value, row.next_due, row.version, state]
                if written is None or written[0] is not row.policy:
                    snapshots += ", policy_seq = %s"
                    values.append(self._policy_seq(connection, row.policy))
                if written is None or written[1] is not row.incident:
                    snapshots += ", incident = %s"
                    values.append(database.dump(row.incident))
                connection.execute(
                    "UPDATE escalations SET status = %s, next_due = %s, version = %s, state = %s, "
                    f"lease_owner = NULL, lease_until = NULL{snapshots} WHERE escalation_id = %s AND version = %s",
                    (*values, row.escalation_id, expected_version),
                )
            if events:
                connection.cursor().executemany(
                    "INSERT INTO journal (escalation_id, incident_id, at, kind, event) VALUES (%s, %s, %s, %s, %s)",
                    [
                        (row.escalation_id, row.incident_id, to_micros(event.at), event.kind, database.dump(event))
                        for event in events
                    ],
                )
            fresh = self._insert(connection, notifications) if notifications else []
            if row.status in OPEN_STATUSES:
                database.after_commit(lambda: self._written.__setitem__(row.escalation_id, (row.policy, row.incident)))
            else:
                database.after_commit(lambda: self._written.pop(row.escalation_id, None))
            database.after_rollback(lambda: self._written.pop(row.escalation_id, None))
        return fresh

    def _insert_row(self, connection: psycopg.Connection[Any], row: EscalationRow, state: str) -> None:
        try:
            with connection.transaction():  # a savepoint: a lost race leaves the enclosing block usable
                connection.execute(
                    "INSERT INTO escalations (escalation_id, incident_id, status, next_due, version, policy_seq, "
                    "incident, state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        row.escalation_id,
                        row.incident_id,
                        row.status.value,
                        row.next_due,
                        row.version,
                        self._policy_seq(connection, row.policy),
                        self.database.dump(row.incident),
                        state,
                    ),
                )
        except psycopg.errors.UniqueViolation:
            raise StaleStateError(
                f"incident {row.incident_id!r}: escalation {row.escalation_id!r} or another open one is already stored"
            ) from None

    def claim_due(self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100) -> list[EscalationRow]:
        """Open escalations due by ``now`` and not leased to another owner, leased to ``owner``, earliest first.
        Rows another instance is claiming at the same moment are skipped (``FOR UPDATE SKIP LOCKED``)."""
        at = to_micros(now)
        until = to_micros(now + timedelta(seconds=lease_seconds))
        with self.database.transaction() as connection:
            found = connection.execute(
                f"UPDATE escalations SET lease_owner = %(owner)s, lease_until = %(until)s WHERE seq IN ("
                f"SELECT seq FROM escalations WHERE {_OPEN} AND next_due <= %(at)s "
                "AND (lease_owner IS NULL OR lease_owner = %(owner)s OR lease_until <= %(at)s) "
                "ORDER BY next_due, escalation_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                f"RETURNING next_due, {_ROW_COLUMNS}",
                {"owner": owner, "until": until, "at": at, "limit": limit},
            ).fetchall()
        found.sort(key=lambda columns: (columns[0], columns[1]))
        return [self._row(*columns) for _, *columns in found]

    def status_counts(self) -> dict[EscalationStatus, int]:
        """How many escalations (the latest of each incident) have each status."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT status, COUNT(*) FROM escalations AS e "
                "WHERE seq = (SELECT MAX(seq) FROM escalations WHERE incident_id = e.incident_id) GROUP BY status"
            ).fetchall()
        return {EscalationStatus(status): int(count) for status, count in rows}

    def next_round_robin(self, policy_id: str, level: int, size: int) -> int:
        """Where the rotation of ``policy_id``'s ``level`` starts this time (``0 <= result < size``), shared by
        every instance on the database."""
        if size < 1:
            raise ValueError(f"a rotation needs at least one recipient, got size {size}")
        with self.database.transaction() as connection:
            (cursor,) = connection.execute(
                "INSERT INTO round_robin (policy_id, level, cursor) VALUES (%s, %s, 1) ON CONFLICT (policy_id, level) "
                "DO UPDATE SET cursor = round_robin.cursor + 1 RETURNING cursor",
                (policy_id, level),
            ).fetchone() or (1,)
        return (int(cursor) - 1) % size

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT event FROM journal WHERE escalation_id = %s ORDER BY seq", (escalation_id,)
            ).fetchall()
        load = self.database.load
        return [load(text, EscalationEvent, f"a journal event of {escalation_id!r}") for (text,) in rows]

    # --- internals ---------------------------------------------------------------------------------------

    def _policy_seq(self, connection: psycopg.Connection[Any], policy: EscalationPolicy) -> int:
        """Where ``policy``'s snapshot is stored, storing it first if this version of it is not yet there."""
        known = self._policy_seqs.get(id(policy))
        if known is not None and known[0] is policy:
            return known[1]
        text = self.database.dump(policy)
        digest = policy_digest(text)
        connection.execute(
            "INSERT INTO policies (digest, policy_id, policy) VALUES (%s, %s, %s) ON CONFLICT (digest) DO NOTHING",
            (digest, policy.id, text),
        )
        (seq,) = connection.execute("SELECT seq FROM policies WHERE digest = %s", (digest,)).fetchone() or (0,)
        self.database.after_commit(lambda: self._remember_policy(policy, int(seq)))
        return int(seq)

    def _remember_policy(self, policy: EscalationPolicy, seq: int) -> None:
        if len(self._policy_seqs) > 1024:
            self._policy_seqs.clear()
        self._policy_seqs[id(policy)] = (policy, seq)

    def _policy(self, seq: int, where: str) -> EscalationPolicy:
        snapshot = self._policies.get(seq)
        if snapshot is None:
            with self.database.reading() as connection:
                found = connection.execute("SELECT policy FROM policies WHERE seq = %s", (seq,)).fetchone()
            if found is None:
                path = self.database.path
                raise StoreError(f"store {path}: {where} refers to policy snapshot {seq}, which is missing")
            snapshot = self.database.load(found[0], EscalationPolicy, f"the policy snapshot of {where}")
            if len(self._policies) > 1024:
                self._policies.clear()
            self._policies[seq] = snapshot
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
        row = database.structure(data, EscalationRow, where)
        if row.is_open:
            self._written[escalation_id] = (row.policy, row.incident)
        return row
