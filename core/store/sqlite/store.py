"""The SQLite store: escalations, their journal, the outbox and incidents in one file (stdlib ``sqlite3``).

:class:`SQLiteStore` implements :class:`~tocsin.store.interfaces.EscalationStore` exactly as the in-memory store
does, durably: one writer connection behind a lock, WAL, a busy timeout, ``BEGIN IMMEDIATE`` transactions,
and a versioned schema (:mod:`tocsin.store.sqlite.schema`). ``commit`` writes the escalation row (compare-and-set
on ``version``: a mismatch raises ``StaleStateError`` and writes nothing), its new notifications and its
journal events in ONE transaction. ``store.incidents`` is the :class:`~tocsin.store.interfaces.IncidentStore` on the
same file. Rows are JSON documents next to indexed columns, so new model fields need no schema change. A policy
snapshot is stored once per policy version (in ``policies``, by the digest of its JSON) and escalations refer
to it; the snapshot and the incident of an escalation are written when they change, not on every transition.

```python
store = SQLiteStore("tocsin.db", plugins.registry, clock=clock)
engine = EscalationEngine(plugins, store, clock=clock, config=config)
processor = IncidentProcessor.from_config(engine, config, incidents=store.incidents)
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tocsin.clock import Clock
from tocsin.instants import to_micros
from tocsin.models import EscalationEvent, Notification
from tocsin.registry import Registry
from tocsin.store.crashpoints import crash_point
from tocsin.store.documents import OPEN, ROW_COLUMNS, EscalationDocuments
from tocsin.store.errors import StaleStateError
from tocsin.store.interfaces import OPEN_STATUSES, EscalationRow
from tocsin.store.operations_sql import SQLOperations
from tocsin.store.sqlite.db import SQLiteDatabase
from tocsin.store.sqlite.incidents import SQLiteIncidentStore
from tocsin.store.sqlite.outbox import SQLiteOutbox

__all__ = ["SQLiteStore"]

_CRASH_POINTS = bool(os.environ.get("TOCSIN_CRASH_AT"))  # the kill tests' crash points (tocsin.store.crashpoints)


class SQLiteStore(EscalationDocuments, SQLiteOutbox):
    """Escalation rows, journals, the outbox (and, as ``incidents``, the incidents; as ``operations``, overrides,
    notes, heartbeats and maintenance windows) in a SQLite file.

    :param path: the database file (created and migrated if needed; its directory must exist).
    :param registry: the plugin registry (documents hold plugin-provided targets and contacts).
    :param clock: the clock the incident history is stamped with (give the engine's).
    :param synchronous: ``"full"`` (default: a commit survives power loss) or ``"normal"`` (a commit survives
        a crash of the process).
    :param busy_timeout_ms: how long a write waits for another process's lock before it fails with
        :class:`~tocsin.store.errors.StoreBusyError`.
    :param defer_sync: commits leave syncing the log to :meth:`SQLiteDatabase.sync
        <tocsin.store.sqlite.db.SQLiteDatabase.sync>`, run by the caller off the event loop (group commit).
    """

    def __init__(
        self,
        path: str | Path,
        registry: Registry,
        *,
        clock: Clock | None = None,
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        defer_sync: bool = False,
    ) -> None:
        database = SQLiteDatabase(
            path,
            registry,
            clock=clock,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            defer_sync=defer_sync,
        )
        SQLiteOutbox.__init__(self, database)
        self.incidents = SQLiteIncidentStore(self.database)
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
            held = connection.execute(
                "SELECT escalation_id, version, status FROM escalations WHERE incident_id = ? "
                "ORDER BY seq DESC LIMIT 1",
                (row.incident_id,),
            ).fetchone()
            if expected_version is None:
                if held is not None and (held[2] in _OPEN_VALUES or held[0] == row.escalation_id):
                    raise StaleStateError(f"incident {row.incident_id!r}: escalation {held[0]!r} is already stored")
                exists = connection.execute(
                    "SELECT 1 FROM escalations WHERE escalation_id = ?", (row.escalation_id,)
                ).fetchone()
                if exists is not None:
                    raise StaleStateError(f"escalation {row.escalation_id!r} is already stored")
                connection.execute(
                    "INSERT INTO escalations (escalation_id, incident_id, status, next_due, version, policy_seq, "
                    "incident, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.escalation_id,
                        row.incident_id,
                        row.status.value,
                        row.next_due,
                        row.version,
                        self._policy_seq(connection, row.policy),
                        database.dump(row.incident),
                        state,
                    ),
                )
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
                    snapshots += ", policy_seq = ?"
                    values.append(self._policy_seq(connection, row.policy))
                if incident_changed:
                    snapshots += ", incident = ?"
                    values.append(database.dump(row.incident))
                connection.execute(
                    "UPDATE escalations SET status = ?, next_due = ?, version = ?, state = ?, lease_owner = NULL, "
                    f"lease_until = NULL{snapshots} WHERE escalation_id = ? AND version = ?",
                    (*values, row.escalation_id, expected_version),
                )
            if events:
                connection.executemany(
                    "INSERT INTO journal (escalation_id, incident_id, at, kind, event) VALUES (?, ?, ?, ?, ?)",
                    [
                        (row.escalation_id, row.incident_id, to_micros(event.at), event.kind, database.dump(event))
                        for event in events
                    ],
                )
            fresh = self._insert(connection, notifications) if notifications else []
            if _CRASH_POINTS:
                kinds = [event.kind for event in events]
                crash_point("before-commit", kinds)
                database.after_commit(lambda: crash_point("after-commit", kinds))
            self._track_written(row)
        return fresh

    def claim_due(self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100) -> list[EscalationRow]:
        """Open escalations due by ``now`` and not leased to another owner, leased to ``owner``, earliest first."""
        at = to_micros(now)
        until = to_micros(now + timedelta(seconds=lease_seconds))
        with self.database.reading() as connection:  # mostly nothing is due: then no write lock is taken
            if (
                connection.execute(
                    f"SELECT 1 FROM escalations WHERE {OPEN} AND next_due <= ? LIMIT 1", (at,)
                ).fetchone()
                is None
            ):
                return []
        with self.database.transaction() as connection:
            found = connection.execute(
                f"SELECT seq, {ROW_COLUMNS} FROM escalations WHERE {OPEN} AND next_due <= ? "
                "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until <= ?) "
                "ORDER BY next_due, escalation_id LIMIT ?",
                (at, owner, at, limit),
            ).fetchall()
            connection.executemany(
                "UPDATE escalations SET lease_owner = ?, lease_until = ? WHERE seq = ?",
                [(owner, until, seq) for seq, *_ in found],
            )
        return [self._row(*columns) for _, *columns in found]

    def next_round_robin(self, policy_id: str, level: int, size: int) -> int:
        """Where the rotation of ``policy_id``'s ``level`` starts this time (``0 <= result < size``); the cursor
        is stored, so it carries on across restarts and is shared by every instance on the file."""
        if size < 1:
            raise ValueError(f"a rotation needs at least one recipient, got size {size}")
        with self.database.transaction() as connection:
            (cursor,) = connection.execute(
                "INSERT INTO round_robin (policy_id, level, cursor) VALUES (?, ?, 1) "
                "ON CONFLICT (policy_id, level) DO UPDATE SET cursor = cursor + 1 RETURNING cursor",
                (policy_id, level),
            ).fetchone()
        return (int(cursor) - 1) % size


_OPEN_VALUES = frozenset(status.value for status in OPEN_STATUSES)
