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

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from tocsin.clock import Clock
from tocsin.instants import to_micros
from tocsin.models import EscalationEvent, Notification
from tocsin.registry import Registry
from tocsin.store.documents import OPEN, ROW_COLUMNS, EscalationDocuments
from tocsin.store.errors import StaleStateError
from tocsin.store.interfaces import OPEN_STATUSES, EscalationRow
from tocsin.store.operations_sql import SQLOperations
from tocsin.store.postgres.db import PostgresDatabase
from tocsin.store.postgres.incidents import PostgresIncidentStore
from tocsin.store.postgres.outbox import PostgresOutbox

__all__ = ["PostgresStore"]

_OPEN_VALUES = frozenset(status.value for status in OPEN_STATUSES)


class PostgresStore(EscalationDocuments, PostgresOutbox):
    """Escalation rows, journals, the outbox (and, as ``incidents``, the incidents; as ``operations``, overrides,
    notes, heartbeats and maintenance windows) in a PostgreSQL database.

    :param dsn: a libpq connection string or URI.
    :param registry: the plugin registry (documents hold plugin-provided targets and contacts).
    :param clock: the clock the incident history is stamped with (give the engine's).
    :param migrate_schema: apply pending migrations on open (``False``: refuse a database that is behind,
        for a schema managed with ``tocsin db migrate``).
    :param pool_size: the most connections this process holds.
    """

    MARK = "%s"

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
        PostgresOutbox.__init__(self, database)
        self.incidents = PostgresIncidentStore(self.database)
        self.operations = SQLOperations(self.database, self.MARK)
        self._init_documents()

    # --- escalations -------------------------------------------------------------------------------------

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
        state = self._state(row)
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
                policy_changed, incident_changed = self._snapshots_to_write(row)
                if policy_changed:
                    snapshots += ", policy_seq = %s"
                    values.append(self._policy_seq(connection, row.policy))
                if incident_changed:
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
            self._track_written(row)
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
                f"SELECT seq FROM escalations WHERE {OPEN} AND next_due <= %(at)s "
                "AND (lease_owner IS NULL OR lease_owner = %(owner)s OR lease_until <= %(at)s) "
                "ORDER BY next_due, escalation_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                f"RETURNING next_due, {ROW_COLUMNS}",
                {"owner": owner, "until": until, "at": at, "limit": limit},
            ).fetchall()
        found.sort(key=lambda columns: (columns[0], columns[1]))
        return [self._row(*columns) for _, *columns in found]

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
