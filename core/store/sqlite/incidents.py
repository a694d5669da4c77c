"""Incidents in SQLite: the :class:`~tocsin.store.interfaces.IncidentStore` half of
:class:`~tocsin.store.sqlite.store.SQLiteStore`.

Each incident is one row (a JSON document plus its id, dedup key and whether it is open); every save also
appends the saved version to ``incident_history``, stamped by the database's clock: the incident's audit
trail, next to the escalation journal.
"""

from __future__ import annotations

from tocsin.instants import from_micros, to_micros
from tocsin.models import Incident, IncidentState
from tocsin.store.interfaces import IncidentChange
from tocsin.store.sqlite.db import SQLiteDatabase

__all__ = ["SQLiteIncidentStore"]


class SQLiteIncidentStore:
    """Incidents by id, open ones by dedup key, repeat counters and every saved version, in SQLite."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    def get(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        with self.database.reading() as connection:
            row = connection.execute("SELECT incident FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return self._load(row[0], incident_id) if row is not None else None

    def save(self, incident: Incident) -> None:
        """Insert or replace the incident and append the version to its history, in one transaction."""
        database = self.database
        document = database.dump(incident)
        at = to_micros(database.clock.now())
        with database.transaction() as connection:
            history = connection.execute(
                "INSERT INTO incident_history (incident_id, at, incident) VALUES (?, ?, ?)",
                (incident.id, at, document),
            )
            connection.execute(
                "INSERT INTO incidents (id, dedup_key, is_open, state, saved, incident) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET dedup_key = excluded.dedup_key, is_open = excluded.is_open, "
                "state = excluded.state, saved = excluded.saved, incident = excluded.incident",
                (
                    incident.id,
                    incident.dedup_key or None,
                    int(incident.state.is_open),
                    incident.state.value,
                    history.lastrowid,
                    document,
                ),
            )

    def find_open(self, dedup_key: str) -> Incident | None:
        """The open incident with this dedup key (the one saved last, should there be several), or None."""
        with self.database.reading() as connection:
            row = connection.execute(
                "SELECT id, incident FROM incidents WHERE dedup_key = ? AND is_open = 1 ORDER BY saved DESC LIMIT 1",
                (dedup_key,),
            ).fetchone()
        return self._load(row[1], row[0]) if row is not None else None

    def add_duplicate(self, incident_id: str) -> int:
        """Count one more repeat; returns the new count."""
        with self.database.transaction() as connection:
            (count,) = connection.execute(
                "INSERT INTO incident_duplicates (incident_id, count) VALUES (?, 1) "
                "ON CONFLICT (incident_id) DO UPDATE SET count = count + 1 RETURNING count",
                (incident_id,),
            ).fetchone()
        return int(count)

    def remember_key(self, key: str, incident_id: str) -> None:
        """Remember that the request with Idempotency-Key ``key`` raised ``incident_id``."""
        at = to_micros(self.database.clock.now())
        with self.database.transaction() as connection:
            connection.execute(
                "INSERT INTO idempotency_keys (key, incident_id, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, incident_id, at),
            )

    def recall_key(self, key: str) -> str | None:
        """The incident the request with Idempotency-Key ``key`` raised, or None."""
        with self.database.reading() as connection:
            row = connection.execute("SELECT incident_id FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else None

    def duplicates(self, incident_id: str) -> int:
        """How many repeats were folded into the incident."""
        with self.database.reading() as connection:
            row = connection.execute(
                "SELECT count FROM incident_duplicates WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return int(row[0]) if row is not None else 0

    def history(self, incident_id: str) -> list[IncidentChange]:
        """Every saved version of the incident, oldest first."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT at, incident FROM incident_history WHERE incident_id = ? ORDER BY seq", (incident_id,)
            ).fetchall()
        return [IncidentChange(at=from_micros(at), incident=self._load(text, incident_id)) for at, text in rows]

    def incident_ids(self, *, open_only: bool = False) -> set[str]:
        """Every incident's id (the open ones', with ``open_only``), without reading the incidents."""
        where = " WHERE is_open = 1" if open_only else ""
        with self.database.reading() as connection:
            return {incident_id for (incident_id,) in connection.execute(f"SELECT id FROM incidents{where}")}

    def list_incidents(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Incident]:
        """Incidents, newest first (by when each was first saved); ``open_only`` keeps the open ones."""
        return [incident for _, incident in self.scan_incidents(limit=limit, open_only=open_only, skip=offset)]

    def scan_incidents(
        self, *, before: int | None = None, limit: int = 100, open_only: bool = False, skip: int = 0
    ) -> list[tuple[int, Incident]]:
        """``(position, incident)`` newest first, the position being the row's ``seq``."""
        where = ["is_open = 1"] if open_only else []
        values: list[int] = []
        if before is not None:
            where.append("seq < ?")
            values.append(before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.database.reading() as connection:
            rows = connection.execute(
                f"SELECT seq, id, incident FROM incidents {clause}ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*values, limit, skip),
            ).fetchall()
        return [(int(seq), self._load(text, incident_id)) for seq, incident_id, text in rows]

    def state_counts(self) -> dict[IncidentState, int]:
        """How many incidents are in each state."""
        with self.database.reading() as connection:
            rows = connection.execute("SELECT state, COUNT(*) FROM incidents GROUP BY state").fetchall()
        return {IncidentState(state): count for state, count in rows}

    def all(self) -> list[Incident]:
        """Every incident, in the order first saved."""
        with self.database.reading() as connection:
            rows = connection.execute("SELECT id, incident FROM incidents ORDER BY seq").fetchall()
        return [self._load(text, incident_id) for incident_id, text in rows]

    def _load(self, text: str, incident_id: str) -> Incident:
        return self.database.load(text, Incident, f"incident {incident_id!r}")
