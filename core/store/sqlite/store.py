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

import contextlib
import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cattrs.gen import make_dict_unstructure_fn, override

from tocsin.clock import Clock
from tocsin.instants import to_micros
from tocsin.models import EscalationEvent, EscalationPolicy, EscalationStatus, Incident, Notification
from tocsin.registry import Registry
from tocsin.store.crashpoints import crash_point
from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.interfaces import OPEN_STATUSES, EscalationRow, OpenEscalation
from tocsin.store.sqlite.db import SQLiteDatabase
from tocsin.store.sqlite.incidents import SQLiteIncidentStore
from tocsin.store.sqlite.outbox import SQLiteOutbox
from tocsin.store.sqlite.schema import policy_digest
from tocsin.store.unit import Callback

__all__ = ["SQLiteStore"]

_OPEN = "status IN ('active', 'acknowledged')"
_CRASH_POINTS = bool(os.environ.get("TOCSIN_CRASH_AT"))  # the kill tests' crash points (tocsin.store.crashpoints)
_ROW_COLUMNS = "escalation_id, policy_seq, incident, state"


class SQLiteStore(SQLiteOutbox):
    """Escalation rows, journals, the outbox (and, as ``incidents``, the incidents) in a SQLite file.

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
        super().__init__(database)
        self.incidents = SQLiteIncidentStore(self.database)
        self._written: dict[str, tuple[EscalationPolicy, Incident]] = {}  # open escalations' stored snapshots
        self._policies: dict[int, EscalationPolicy] = {}  # stored snapshot (policies.seq) -> one shared object
        self._policy_seqs: dict[int, tuple[EscalationPolicy, int]] = {}  # id(policy) -> (policy, its stored seq)
        self._unstructure_state = make_dict_unstructure_fn(
            EscalationRow,
            self.database.converter,
            _cattrs_omit_if_default=True,
            policy=override(omit=True),
            incident=override(omit=True),
        )

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """One unit of work on the file (escalations, outbox and incidents alike); see :mod:`tocsin.store.unit`."""
        return self.database.atomic()

    def after_commit(self, callback: Callback) -> None:
        """Run ``callback`` once the outermost atomic block commits (now, outside one)."""
        self.database.after_commit(callback)

    def after_rollback(self, callback: Callback) -> None:
        """Run ``callback`` if the current atomic block rolls back."""
        self.database.after_rollback(callback)

    @property
    def path(self) -> str:
        """The database file."""
        return self.database.path

    def close(self) -> None:
        """Close the database file."""
        self.database.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- escalations -------------------------------------------------------------------------------------

    def load(self, incident_id: str) -> EscalationRow | None:
        """The latest escalation of ``incident_id``, or None."""
        rows = self._rows(
            f"SELECT {_ROW_COLUMNS} FROM escalations WHERE incident_id = ? ORDER BY seq DESC LIMIT 1", (incident_id,)
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
            else ("SELECT DISTINCT incident_id FROM escalations")
        )
        with self.database.reading() as connection:
            return {incident_id for (incident_id,) in connection.execute(query)}

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
        written = self._written.get(row.escalation_id)
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
                if written is None or written[0] is not row.policy:
                    snapshots += ", policy_seq = ?"
                    values.append(self._policy_seq(connection, row.policy))
                if written is None or written[1] is not row.incident:
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
            # Which snapshots the file holds is known only once the outermost block has committed.
            if row.status in OPEN_STATUSES:
                database.after_commit(lambda: self._written.__setitem__(row.escalation_id, (row.policy, row.incident)))
            else:
                database.after_commit(lambda: self._written.pop(row.escalation_id, None))
            database.after_rollback(lambda: self._written.pop(row.escalation_id, None))
        return fresh

    def claim_due(self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100) -> list[EscalationRow]:
        """Open escalations due by ``now`` and not leased to another owner, leased to ``owner``, earliest first."""
        at = to_micros(now)
        until = to_micros(now + timedelta(seconds=lease_seconds))
        with self.database.reading() as connection:  # mostly nothing is due: then no write lock is taken
            if (
                connection.execute(
                    f"SELECT 1 FROM escalations WHERE {_OPEN} AND next_due <= ? LIMIT 1", (at,)
                ).fetchone()
                is None
            ):
                return []
        with self.database.transaction() as connection:
            found = connection.execute(
                f"SELECT seq, {_ROW_COLUMNS} FROM escalations WHERE {_OPEN} AND next_due <= ? "
                "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until <= ?) "
                "ORDER BY next_due, escalation_id LIMIT ?",
                (at, owner, at, limit),
            ).fetchall()
            connection.executemany(
                "UPDATE escalations SET lease_owner = ?, lease_until = ? WHERE seq = ?",
                [(owner, until, seq) for seq, *_ in found],
            )
        return [self._row(*columns) for _, *columns in found]

    def status_counts(self) -> dict[EscalationStatus, int]:
        """How many escalations (the latest of each incident) have each status."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT status, COUNT(*) FROM escalations AS e "
                "WHERE seq = (SELECT MAX(seq) FROM escalations WHERE incident_id = e.incident_id) GROUP BY status"
            ).fetchall()
        return {EscalationStatus(status): count for status, count in rows}

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

    def events(self, escalation_id: str) -> list[EscalationEvent]:
        """The journal of one escalation, oldest first."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT event FROM journal WHERE escalation_id = ? ORDER BY seq", (escalation_id,)
            ).fetchall()
        load = self.database.load
        return [load(text, EscalationEvent, f"a journal event of {escalation_id!r}") for (text,) in rows]

    # --- internals ---------------------------------------------------------------------------------------

    def _state(self, row: EscalationRow) -> str:
        return self.database.dump_data(self._unstructure_state(row))

    def _rows(self, sql: str, parameters: tuple[Any, ...]) -> list[EscalationRow]:
        with self.database.reading() as connection:
            found = connection.execute(sql, parameters).fetchall()
        return [self._row(*columns) for columns in found]

    def _policy_seq(self, connection: sqlite3.Connection, policy: EscalationPolicy) -> int:
        """Where ``policy``'s snapshot is stored, storing it first if this version of it is not yet there."""
        known = self._policy_seqs.get(id(policy))
        if known is not None and known[0] is policy:
            return known[1]
        text = self.database.dump(policy)
        digest = policy_digest(text)
        connection.execute(
            "INSERT INTO policies (digest, policy_id, policy) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
            (digest, policy.id, text),
        )
        (seq,) = connection.execute("SELECT seq FROM policies WHERE digest = ?", (digest,)).fetchone()
        # Known to be stored only once the outermost block commits (a rollback takes the new row with it).
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
                found = connection.execute("SELECT policy FROM policies WHERE seq = ?", (seq,)).fetchone()
            if found is None:
                path = self.database.path
                raise StoreError(f"store {path}: {where} refers to policy snapshot {seq}, which is missing")
            snapshot = self.database.load(found[0], EscalationPolicy, f"the policy snapshot of {where}")
            if len(self._policies) > 1024:
                self._policies.clear()
            self._policies[seq] = snapshot  # rows that share a snapshot share one policy object
            self._remember_policy(snapshot, seq)
        return snapshot

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


_OPEN_VALUES = frozenset(status.value for status in OPEN_STATUSES)
