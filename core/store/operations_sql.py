""":class:`~tocsin.store.operations.OperationsStore` on SQL: the same statements on SQLite and PostgreSQL.

Each record is a JSON document written with the store's converter, next to the columns that are queried
(ids, instants as integer microseconds, versions). Writes go through the database's ``transaction()``, so
they join the escalation store's atomic blocks. A duplicate id is found with ``ON CONFLICT DO NOTHING`` and
the row count, never with a failed insert (which would abort a PostgreSQL transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from tocsin.instants import to_micros
from tocsin.store.errors import StaleStateError
from tocsin.store.records import HeartbeatState, IncidentNote, MaintenanceWindow, ScheduleOverride, Suppression

__all__ = ["SQLOperations", "operations_tables"]

_T = TypeVar("_T")


class SQLOperations:
    """Overrides, notes, heartbeats and maintenance windows in the tables of schema step "operations".

    :param database: the store's ``SQLiteDatabase`` or ``PostgresDatabase``.
    :param mark: the driver's parameter marker (``?`` or ``%s``).
    """

    def __init__(self, database: Any, mark: str) -> None:
        self.database = database
        self._m = mark

    def _read(self, sql: str, values: Sequence[Any], cls: type[_T]) -> list[_T]:
        with self.database.reading() as connection:
            rows = connection.execute(sql.replace("?", self._m), tuple(values)).fetchall()
        return [self.database.load(text, cls) for (text,) in rows]

    def _write(self, sql: str, values: Sequence[Any]) -> int:
        """Run one statement in a transaction; returns how many rows it changed."""
        with self.database.transaction() as connection:
            return int(connection.execute(sql.replace("?", self._m), tuple(values)).rowcount)

    # --- schedule overrides ---

    def add_overrides(self, overrides: Sequence[ScheduleOverride]) -> None:
        """Store ``overrides`` together; an id already stored raises ``StaleStateError``."""
        dump = self.database.dump
        with self.database.transaction():
            for override in overrides:
                added = self._write(
                    "INSERT INTO schedule_overrides (id, schedule_id, start_at, end_at, document) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (
                        override.id,
                        override.schedule_id,
                        to_micros(override.start),
                        to_micros(override.end),
                        dump(override),
                    ),
                )
                if not added:
                    raise StaleStateError(f"override {override.id!r} is already stored")

    def overrides(
        self, schedule_id: str, *, ending_after: datetime | None = None, starting_before: datetime | None = None
    ) -> list[ScheduleOverride]:
        """The schedule's run-time overrides in the bounds, in the order made."""
        where = "schedule_id = ?"
        values: list[Any] = [schedule_id]
        if ending_after is not None:
            where += " AND end_at > ?"
            values.append(to_micros(ending_after))
        if starting_before is not None:
            where += " AND start_at < ?"
            values.append(to_micros(starting_before))
        return self._read(
            f"SELECT document FROM schedule_overrides WHERE {where} ORDER BY seq", values, ScheduleOverride
        )

    def override(self, override_id: str) -> ScheduleOverride | None:
        """The override, or None."""
        found = self._read("SELECT document FROM schedule_overrides WHERE id = ?", (override_id,), ScheduleOverride)
        return found[0] if found else None

    def delete_override(self, override_id: str) -> bool:
        """Forget the override; False when there was none."""
        return self._write("DELETE FROM schedule_overrides WHERE id = ?", (override_id,)) > 0

    def cut_override(self, override_id: str, end: datetime) -> ScheduleOverride | None:
        """End the override at ``end``; the override as it is now, or None."""
        with self.database.transaction():
            held = self.override(override_id)
            if held is None:
                return None
            cut = attrs.evolve(held, end=end)
            self._write(
                "UPDATE schedule_overrides SET end_at = ?, document = ? WHERE id = ?",
                (to_micros(end), self.database.dump(cut), override_id),
            )
        return cut

    # --- notes ---

    def add_note(self, note: IncidentNote) -> None:
        """Append a note."""
        self._write(
            "INSERT INTO incident_notes (incident_id, at, document) VALUES (?, ?, ?)",
            (note.incident_id, to_micros(note.at), self.database.dump(note)),
        )

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """The incident's notes, oldest first."""
        return self._read(
            "SELECT document FROM incident_notes WHERE incident_id = ? ORDER BY seq", (incident_id,), IncidentNote
        )

    # --- heartbeats ---

    def heartbeat(self, name: str) -> HeartbeatState | None:
        """The heartbeat's state, or None."""
        found = self._read("SELECT document FROM heartbeats WHERE name = ?", (name,), HeartbeatState)
        return found[0] if found else None

    def heartbeats(self) -> list[HeartbeatState]:
        """Every heartbeat's state, by name."""
        return self._read("SELECT document FROM heartbeats ORDER BY name", (), HeartbeatState)

    def save_heartbeat(self, state: HeartbeatState, *, expected_version: int | None) -> None:
        """Compare-and-set the heartbeat's state on its version."""
        document = self.database.dump(state)
        due = to_micros(state.due_at)
        if expected_version is None:
            written = self._write(
                "INSERT INTO heartbeats (name, version, due_at, document) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (state.name, state.version, due, document),
            )
        else:
            written = self._write(
                "UPDATE heartbeats SET version = ?, due_at = ?, document = ? WHERE name = ? AND version = ?",
                (state.version, due, document, state.name, expected_version),
            )
        if not written:
            raise StaleStateError(f"heartbeat {state.name!r}: the stored version is not {expected_version}")

    # --- maintenance ---

    def add_window(self, window: MaintenanceWindow) -> None:
        """Store a window; an id already stored raises ``StaleStateError``."""
        added = self._write(
            "INSERT INTO maintenance_windows (id, start_at, closes_at, document) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (window.id, to_micros(window.start), to_micros(window.closes), self.database.dump(window)),
        )
        if not added:
            raise StaleStateError(f"maintenance window {window.id!r} is already stored")

    def window(self, window_id: str) -> MaintenanceWindow | None:
        """The window, or None."""
        found = self._read("SELECT document FROM maintenance_windows WHERE id = ?", (window_id,), MaintenanceWindow)
        return found[0] if found else None

    def windows(self, *, closing_after: datetime | None = None) -> list[MaintenanceWindow]:
        """The windows still holding incidents after ``closing_after`` (all without it), by start."""
        if closing_after is None:
            return self._read("SELECT document FROM maintenance_windows ORDER BY start_at, seq", (), MaintenanceWindow)
        return self._read(
            "SELECT document FROM maintenance_windows WHERE closes_at > ? ORDER BY start_at, seq",
            (to_micros(closing_after),),
            MaintenanceWindow,
        )

    def end_window(self, window_id: str, at: datetime, by: str | None) -> MaintenanceWindow | None:
        """End the window at ``at`` if it is still open then."""
        with self.database.transaction():
            held = self.window(window_id)
            if held is None or held.closes <= at:
                return held
            ended = attrs.evolve(held, ended_at=at, ended_by=by)
            self._write(
                "UPDATE maintenance_windows SET closes_at = ?, document = ? WHERE id = ?",
                (to_micros(ended.closes), self.database.dump(ended), window_id),
            )
        return ended

    def add_suppression(self, suppression: Suppression) -> None:
        """Remember that a window held an incident (replacing what was remembered for it)."""
        self._write(
            "INSERT INTO incident_suppressions (incident_id, window_id, document) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET window_id = excluded.window_id, document = excluded.document",
            (suppression.incident_id, suppression.window_id, self.database.dump(suppression)),
        )

    def suppression(self, incident_id: str) -> Suppression | None:
        """Why the incident was held, or None."""
        found = self._read(
            "SELECT document FROM incident_suppressions WHERE incident_id = ?", (incident_id,), Suppression
        )
        return found[0] if found else None

    def suppressions(self, window_id: str) -> list[Suppression]:
        """The incidents the window held, in the order they arrived."""
        return self._read(
            "SELECT document FROM incident_suppressions WHERE window_id = ? ORDER BY seq", (window_id,), Suppression
        )


# The schema step that adds these tables, for SQLite (``seq`` AUTOINCREMENT) and PostgreSQL (``BIGSERIAL``).
def operations_tables(serial: str, integer: str) -> tuple[str, ...]:
    """``CREATE`` statements of the operations tables with the dialect's ``serial`` key and ``integer`` type."""
    return (
        f"""CREATE TABLE schedule_overrides (
            seq {serial},
            id TEXT NOT NULL UNIQUE,
            schedule_id TEXT NOT NULL,
            start_at {integer} NOT NULL,
            end_at {integer} NOT NULL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule_id, end_at)",
        f"""CREATE TABLE incident_notes (
            seq {serial},
            incident_id TEXT NOT NULL,
            at {integer} NOT NULL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX incident_notes_incident ON incident_notes (incident_id, seq)",
        f"""CREATE TABLE heartbeats (
            name TEXT PRIMARY KEY,
            version {integer} NOT NULL,
            due_at {integer} NOT NULL,
            document TEXT NOT NULL
        )""",
        f"""CREATE TABLE maintenance_windows (
            seq {serial},
            id TEXT NOT NULL UNIQUE,
            start_at {integer} NOT NULL,
            closes_at {integer} NOT NULL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX maintenance_windows_closing ON maintenance_windows (closes_at)",
        f"""CREATE TABLE incident_suppressions (
            seq {serial},
            incident_id TEXT NOT NULL UNIQUE,
            window_id TEXT NOT NULL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX incident_suppressions_window ON incident_suppressions (window_id, seq)",
    )
