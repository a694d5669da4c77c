"""Incidents in PostgreSQL: the :class:`~tocsin.store.interfaces.IncidentStore` half of
:class:`~tocsin.store.postgres.store.PostgresStore`.

As in SQLite: one row per incident (a JSON document next to its id, dedup key and whether it is open), every
save appended to ``incident_history`` stamped by the store's clock, and at most one open incident per dedup
key (a unique index, which holds across instances).
"""

from __future__ import annotations

from typing import Any

from tocsin.instants import from_micros, to_micros
from tocsin.models import Incident, IncidentState
from tocsin.store.interfaces import IncidentChange
from tocsin.store.postgres.db import PostgresDatabase

__all__ = ["PostgresIncidentStore"]


class PostgresIncidentStore:
    """Incidents by id, open ones by dedup key, repeat counters and every saved version, in PostgreSQL."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def get(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        row = self._one("SELECT incident FROM incidents WHERE id = %s", (incident_id,))
        return self._load(row[0], incident_id) if row is not None else None

    def save(self, incident: Incident) -> None:
        """Insert or replace the incident and append the version to its history, in one transaction."""
        database = self.database
        document = database.dump(incident)
        at = to_micros(database.clock.now())
        with database.transaction() as connection:
            (saved,) = connection.execute(
                "INSERT INTO incident_history (incident_id, at, incident) VALUES (%s, %s, %s) RETURNING seq",
                (incident.id, at, document),
            ).fetchone() or (0,)
            connection.execute(
                "INSERT INTO incidents (id, dedup_key, is_open, state, saved, incident) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET dedup_key = excluded.dedup_key, is_open = excluded.is_open, "
                "state = excluded.state, saved = excluded.saved, incident = excluded.incident",
                (
                    incident.id,
                    incident.dedup_key or None,
                    incident.state.is_open,
                    incident.state.value,
                    saved,
                    document,
                ),
            )

    def find_open(self, dedup_key: str) -> Incident | None:
        """The open incident with this dedup key, or None. Inside a unit of work the key is held until it ends,
        so another instance looking for it meanwhile waits and then finds what this one saved."""
        self.database.serialize_on("dedup", dedup_key)
        row = self._one(
            "SELECT id, incident FROM incidents WHERE dedup_key = %s AND is_open ORDER BY saved DESC LIMIT 1",
            (dedup_key,),
        )
        return self._load(row[1], row[0]) if row is not None else None

    def add_duplicate(self, incident_id: str) -> int:
        """Count one more repeat; returns the new count."""
        with self.database.transaction() as connection:
            (count,) = connection.execute(
                "INSERT INTO incident_duplicates (incident_id, count) VALUES (%s, 1) ON CONFLICT (incident_id) "
                "DO UPDATE SET count = incident_duplicates.count + 1 RETURNING count",
                (incident_id,),
            ).fetchone() or (0,)
        return int(count)

    def remember_key(self, key: str, incident_id: str) -> None:
        """Remember that the request with Idempotency-Key ``key`` raised ``incident_id``."""
        at = to_micros(self.database.clock.now())
        with self.database.transaction() as connection:
            connection.execute(
                "INSERT INTO idempotency_keys (key, incident_id, at) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
                (key, incident_id, at),
            )

    def recall_key(self, key: str) -> str | None:
        """The incident the request with Idempotency-Key ``key`` raised, or None (inside a unit of work, the key
        is held until it ends, as for :meth:`find_open`)."""
        self.database.serialize_on("idempotency", key)
        row = self._one("SELECT incident_id FROM idempotency_keys WHERE key = %s", (key,))
        return str(row[0]) if row is not None else None

    def duplicates(self, incident_id: str) -> int:
        """How many repeats were folded into the incident."""
        row = self._one("SELECT count FROM incident_duplicates WHERE incident_id = %s", (incident_id,))
        return int(row[0]) if row is not None else 0

    def history(self, incident_id: str) -> list[IncidentChange]:
        """Every saved version of the incident, oldest first."""
        rows = self._all(
            "SELECT at, incident FROM incident_history WHERE incident_id = %s ORDER BY seq", (incident_id,)
        )
        return [IncidentChange(at=from_micros(at), incident=self._load(text, incident_id)) for at, text in rows]

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """Every incident's id (the open ones', with ``open_only``), without reading the incidents."""
        where = " WHERE is_open" if open_only else ""
        return {incident_id for (incident_id,) in self._all(f"SELECT id FROM incidents{where}", ())}

    def list_incidents(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Incident]:
        """Incidents, newest first (by when each was first saved); ``open_only`` keeps the open ones."""
        return [incident for _, incident in self.scan_incidents(limit=limit, open_only=open_only, skip=offset)]

    def scan_incidents(
        self, *, before: int | None = None, limit: int = 100, open_only: bool = False, skip: int = 0
    ) -> list[tuple[int, Incident]]:
        """``(position, incident)`` newest first, the position being the row's ``seq``."""
        where = ["is_open"] if open_only else []
        values: list[int] = []
        if before is not None:
            where.append("seq < %s")
            values.append(before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._all(
            f"SELECT seq, id, incident FROM incidents {clause}ORDER BY seq DESC LIMIT %s OFFSET %s",
            (*values, limit, skip),
        )
        return [(int(seq), self._load(text, incident_id)) for seq, incident_id, text in rows]

    def state_counts(self) -> dict[IncidentState, int]:
        """How many incidents are in each state."""
        rows = self._all("SELECT state, COUNT(*) FROM incidents GROUP BY state", ())
        return {IncidentState(state): int(count) for state, count in rows}

    def all(self) -> list[Incident]:
        """Every incident, in the order first saved."""
        rows = self._all("SELECT id, incident FROM incidents ORDER BY seq", ())
        return [self._load(text, incident_id) for incident_id, text in rows]

    def _one(self, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self.database.reading() as connection:
            return connection.execute(sql, parameters).fetchone()

    def _all(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.database.reading() as connection:
            return connection.execute(sql, parameters).fetchall()

    def _load(self, text: str, incident_id: str) -> Incident:
        return self.database.load(text, Incident, f"incident {incident_id!r}")
