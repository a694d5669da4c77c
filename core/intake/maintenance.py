"""Maintenance windows, the applying side: which window holds an incident that arrives, what is remembered about
it, and ending a window early.

The incident processor asks :meth:`MaintenanceGate.hold_for` about each new incident (after routing, so labels
the rules add count). Of the windows open at that moment — the config's occurrences (see
:mod:`tocsin.escalation.maintenance`) and those made through the API, none ended early — the ones whose matcher
takes the incident hold it; if several do, the one that closes last. The incident is stored and marked
(:class:`~tocsin.store.records.Suppression`); with ``on_end: escalate`` its escalation starts held until the
window closes, with ``drop`` it never starts. Ending a window early begins the held escalations now.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from tocsin.clock import Clock
from tocsin.errors import TocsinError
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.maintenance import ConfigWindows
from tocsin.models import Incident, OnEnd
from tocsin.store.operations import OperationsStore
from tocsin.store.records import MaintenanceWindow, Suppression, WindowSource

__all__ = ["Hold", "MaintenanceGate", "UnknownWindowError", "WindowClosedError"]


class UnknownWindowError(TocsinError, LookupError):
    """No maintenance window (or open occurrence of a config window) has this id."""


class WindowClosedError(TocsinError):
    """The maintenance window has closed already."""


@attrs.frozen(kw_only=True)
class Hold:
    """A window holds an incident: until when, and what then."""

    window: MaintenanceWindow

    @property
    def until(self) -> datetime:
        """When the window closes."""
        return self.window.closes


class MaintenanceGate:
    """The config's windows and the store's, asked about each incident that arrives."""

    def __init__(self, windows: ConfigWindows, store: OperationsStore, clock: Clock) -> None:
        self.windows = windows
        self._store = store
        self._clock = clock

    def open_windows(self, at: datetime) -> list[MaintenanceWindow]:
        """Every window holding incidents that arrive at ``at``: the config's occurrences not ended early, then
        those made through the API, by start."""
        store = self._store
        stored = store.windows(closing_after=at)
        found = [window for window in self.windows.active_at(at) if store.window(window.id) is None]
        found.extend(window for window in stored if window.source is WindowSource.API and window.active_at(at))
        return sorted(found, key=lambda window: window.start)

    def upcoming(self, at: datetime) -> list[MaintenanceWindow]:
        """The windows open at ``at`` or still to come: those made through the API, and the current or next
        occurrence of each config window (an occurrence ended early shown as it is stored), by start."""
        store = self._store
        found = [window for window in store.windows(closing_after=at) if window.source is WindowSource.API]
        for occurrence in self.windows.upcoming(at):
            ended = store.window(occurrence.id)
            found.append(ended if ended is not None else occurrence)
        return sorted(found, key=lambda window: window.start)

    def hold_for(self, incident: Incident, integration: str | None = None) -> Hold | None:
        """The window that holds ``incident`` arriving now (through ``integration``, if any), or None."""
        now = self._clock.now()
        matching = [window for window in self.open_windows(now) if window.match.matches(incident, integration)]
        if not matching:
            return None
        return Hold(window=max(matching, key=lambda window: window.closes))

    def remember(self, incident: Incident, hold: Hold) -> Suppression:
        """Mark ``incident`` as held by ``hold``'s window (in the caller's unit of work)."""
        window = hold.window
        held = Suppression(
            incident_id=incident.id,
            window_id=window.id,
            at=self._clock.now(),
            until=window.closes,
            on_end=window.on_end,
            reason=window.reason,
        )
        self._store.add_suppression(held)
        return held

    def suppression(self, incident_id: str) -> Suppression | None:
        """Why the incident was held (None: it was not)."""
        return self._store.suppression(incident_id)

    def dropped(self, incident_id: str) -> bool:
        """Whether the incident was held by a window that drops what it held: it must never escalate."""
        held = self._store.suppression(incident_id)
        return held is not None and held.on_end is OnEnd.DROP

    def add(self, window: MaintenanceWindow) -> None:
        """Store a window made through the API."""
        self._store.add_window(window)

    def end(self, window_id: str, engine: EscalationEngine, by: str | None) -> tuple[MaintenanceWindow, list[str]]:
        """End a window now (one made through the API, or a config window's open occurrence, by its id or the
        window's name): the escalations it held begin now. Returns the window as stored and the incidents
        released. One unit of work (call it in one).

        :raises UnknownWindowError: no such window or open occurrence.
        :raises WindowClosedError: it closed already.
        """
        now = self._clock.now()
        store = self._store
        stored = store.window(window_id)
        if stored is None:
            occurrence = self.windows.occurrence(window_id, now)
            if occurrence is None or store.window(occurrence.id) is not None:
                raise UnknownWindowError(f"no open maintenance window {window_id!r}")
            stored = attrs.evolve(occurrence, ended_at=now, ended_by=by)
            store.add_window(stored)
        elif stored.closes <= now:
            raise WindowClosedError(f"maintenance window {window_id!r} closed at {stored.closes.isoformat()}")
        else:
            ended = store.end_window(window_id, now, by)
            assert ended is not None
            stored = ended
        released = []
        for held in store.suppressions(stored.id):
            if held.on_end is not OnEnd.ESCALATE:
                continue
            reason = f"maintenance window {stored.id} ended early"
            if engine.release_hold(held.incident_id, by, reason=reason) is not None:
                released.append(held.incident_id)
        return stored, released
