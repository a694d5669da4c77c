"""The store of what operators change while the pager runs (see :mod:`tocsin.store.records`).

One protocol, :class:`OperationsStore`, for overrides made at run time, incident notes, heartbeat monitors'
state, maintenance windows and the incidents they hold. Its writes join the escalation store's atomic blocks
(a missed heartbeat's new state and the incident it opens commit together); outside one each write is its own
transaction. :class:`InMemoryOperations` keeps it in dictionaries; the SQL stores share
:class:`~tocsin.store.operations_sql.SQLOperations`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import attrs

from tocsin.store.errors import StaleStateError
from tocsin.store.records import HeartbeatState, IncidentNote, MaintenanceWindow, ScheduleOverride, Suppression
from tocsin.store.unit import UnitOfWork

__all__ = ["InMemoryOperations", "OperationsStore"]

_T = TypeVar("_T")


class OperationsStore(Protocol):
    """Overrides, notes, heartbeats, maintenance windows and suppressions."""

    # --- schedule overrides ---

    def add_overrides(self, overrides: Sequence[ScheduleOverride]) -> None:
        """Store ``overrides`` (a swap's two together); an id already stored raises ``StaleStateError``."""
        ...

    def overrides(
        self, schedule_id: str, *, ending_after: datetime | None = None, starting_before: datetime | None = None
    ) -> list[ScheduleOverride]:
        """The run-time overrides of ``schedule_id`` that end after ``ending_after`` and start before
        ``starting_before`` (either bound left out: no bound), in the order they were made."""
        ...

    def override(self, override_id: str) -> ScheduleOverride | None:
        """The override with ``override_id``, or None."""
        ...

    def delete_override(self, override_id: str) -> bool:
        """Forget the override; False when there was none."""
        ...

    def cut_override(self, override_id: str, end: datetime) -> ScheduleOverride | None:
        """End the override at ``end`` instead (the part before stays); the override as it is now, or None."""
        ...

    # --- notes ---

    def add_note(self, note: IncidentNote) -> None:
        """Append a note to its incident."""
        ...

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """The incident's notes, oldest first."""
        ...

    # --- heartbeats ---

    def heartbeat(self, name: str) -> HeartbeatState | None:
        """The state of heartbeat ``name``, or None (never armed)."""
        ...

    def heartbeats(self) -> list[HeartbeatState]:
        """Every heartbeat's state, by name."""
        ...

    def save_heartbeat(self, state: HeartbeatState, *, expected_version: int | None) -> None:
        """Write ``state`` if the stored version is ``expected_version`` (None: none stored yet); else raise
        ``StaleStateError`` and write nothing."""
        ...

    # --- maintenance ---

    def add_window(self, window: MaintenanceWindow) -> None:
        """Store a maintenance window; an id already stored raises ``StaleStateError``."""
        ...

    def window(self, window_id: str) -> MaintenanceWindow | None:
        """The window with ``window_id``, or None."""
        ...

    def windows(self, *, closing_after: datetime | None = None) -> list[MaintenanceWindow]:
        """The stored windows (with ``closing_after``: those that still hold incidents after it), by start."""
        ...

    def end_window(self, window_id: str, at: datetime, by: str | None) -> MaintenanceWindow | None:
        """End the window at ``at`` if it is still open then; the window as it is now, or None when unknown."""
        ...

    def add_suppression(self, suppression: Suppression) -> None:
        """Remember that a window held an incident (one per incident: a later one replaces it)."""
        ...

    def suppression(self, incident_id: str) -> Suppression | None:
        """Why the incident was held, or None."""
        ...

    def suppressions(self, window_id: str) -> list[Suppression]:
        """The incidents ``window_id`` held, in the order they arrived."""
        ...


class InMemoryOperations:
    """:class:`OperationsStore` in dictionaries.

    :param unit: the store whose atomic blocks these writes belong to: a block that rolls back undoes them.
    """

    def __init__(self, unit: UnitOfWork | None = None) -> None:
        self._unit = unit
        self._overrides: dict[str, ScheduleOverride] = {}  # insertion ordered: the order they were made
        self._notes: dict[str, list[IncidentNote]] = {}
        self._heartbeats: dict[str, HeartbeatState] = {}
        self._windows: dict[str, MaintenanceWindow] = {}
        self._suppressions: dict[str, Suppression] = {}

    def _undo(self, callback: Callable[[], object]) -> None:
        if self._unit is not None:
            self._unit.after_rollback(callback)

    def _put(self, table: dict[str, _T], key: str, value: _T) -> None:
        """``table[key] = value``, undone if the block rolls back."""
        had = key in table
        previous = table.get(key)
        table[key] = value

        def undo() -> None:
            if had and previous is not None:
                table[key] = previous
            else:
                table.pop(key, None)

        self._undo(undo)

    # --- schedule overrides ---

    def add_overrides(self, overrides: Sequence[ScheduleOverride]) -> None:
        """Store ``overrides``; see :meth:`OperationsStore.add_overrides`."""
        for override in overrides:
            if override.id in self._overrides:
                raise StaleStateError(f"override {override.id!r} is already stored")
        for override in overrides:
            self._put(self._overrides, override.id, override)

    def overrides(
        self, schedule_id: str, *, ending_after: datetime | None = None, starting_before: datetime | None = None
    ) -> list[ScheduleOverride]:
        """The schedule's run-time overrides in the bounds, in the order made."""
        return [
            override
            for override in self._overrides.values()
            if override.schedule_id == schedule_id
            and (ending_after is None or override.end > ending_after)
            and (starting_before is None or override.start < starting_before)
        ]

    def override(self, override_id: str) -> ScheduleOverride | None:
        """The override, or None."""
        return self._overrides.get(override_id)

    def delete_override(self, override_id: str) -> bool:
        """Forget the override."""
        held = self._overrides.pop(override_id, None)
        if held is None:
            return False
        self._undo(lambda: self._overrides.__setitem__(override_id, held))
        return True

    def cut_override(self, override_id: str, end: datetime) -> ScheduleOverride | None:
        """End the override at ``end``."""
        held = self._overrides.get(override_id)
        if held is None:
            return None
        cut = attrs.evolve(held, end=end)
        self._put(self._overrides, override_id, cut)
        return cut

    # --- notes ---

    def add_note(self, note: IncidentNote) -> None:
        """Append a note."""
        notes = self._notes.setdefault(note.incident_id, [])
        notes.append(note)
        self._undo(lambda: notes.remove(note))

    def notes(self, incident_id: str) -> list[IncidentNote]:
        """The incident's notes, oldest first."""
        return list(self._notes.get(incident_id, ()))

    # --- heartbeats ---

    def heartbeat(self, name: str) -> HeartbeatState | None:
        """The heartbeat's state, or None."""
        return self._heartbeats.get(name)

    def heartbeats(self) -> list[HeartbeatState]:
        """Every heartbeat's state, by name."""
        return [self._heartbeats[name] for name in sorted(self._heartbeats)]

    def save_heartbeat(self, state: HeartbeatState, *, expected_version: int | None) -> None:
        """Compare-and-set the heartbeat's state."""
        held = self._heartbeats.get(state.name)
        found = held.version if held is not None else None
        if found != expected_version:
            raise StaleStateError(f"heartbeat {state.name!r}: expected version {expected_version}, found {found}")
        self._put(self._heartbeats, state.name, state)

    # --- maintenance ---

    def add_window(self, window: MaintenanceWindow) -> None:
        """Store a window."""
        if window.id in self._windows:
            raise StaleStateError(f"maintenance window {window.id!r} is already stored")
        self._put(self._windows, window.id, window)

    def window(self, window_id: str) -> MaintenanceWindow | None:
        """The window, or None."""
        return self._windows.get(window_id)

    def windows(self, *, closing_after: datetime | None = None) -> list[MaintenanceWindow]:
        """The windows still holding incidents after ``closing_after`` (all without it), by start."""
        found = [w for w in self._windows.values() if closing_after is None or w.closes > closing_after]
        return sorted(found, key=lambda window: window.start)

    def end_window(self, window_id: str, at: datetime, by: str | None) -> MaintenanceWindow | None:
        """End the window at ``at`` if it is still open then."""
        held = self._windows.get(window_id)
        if held is None or held.closes <= at:
            return held
        ended = attrs.evolve(held, ended_at=at, ended_by=by)
        self._put(self._windows, window_id, ended)
        return ended

    def add_suppression(self, suppression: Suppression) -> None:
        """Remember that a window held an incident."""
        self._put(self._suppressions, suppression.incident_id, suppression)

    def suppression(self, incident_id: str) -> Suppression | None:
        """Why the incident was held, or None."""
        return self._suppressions.get(incident_id)

    def suppressions(self, window_id: str) -> list[Suppression]:
        """The incidents the window held, in the order they arrived."""
        return [held for held in self._suppressions.values() if held.window_id == window_id]
