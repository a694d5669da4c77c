"""What operators change while the pager runs, as the store keeps it: schedule overrides made at run time,
incident notes, heartbeat monitors' state, maintenance windows and the incidents they hold.

Plain attrs data; instants are aware UTC datetimes. :class:`~tocsin.store.operations.OperationsStore` reads
and writes them, in the same units of work as the escalations and incidents.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import attrs

from tocsin.models import MaintenanceMatch, OnEnd, Override

__all__ = [
    "HeartbeatState",
    "IncidentNote",
    "MaintenanceWindow",
    "ScheduleOverride",
    "Suppression",
    "WindowSource",
    "new_id",
]


def new_id() -> str:
    """A fresh id for a record (32 hex digits)."""
    return uuid.uuid4().hex


@attrs.frozen(kw_only=True)
class ScheduleOverride:
    """An override of one schedule made at run time (``POST /v1/schedules/{id}/overrides``, or one half of a
    swap): ``user`` is on call from ``start`` until ``end`` instead of whoever the schedule says (for
    ``layer`` only, when given). Where it overlaps the config's overrides or an earlier run-time one, the one
    made later wins."""

    id: str
    schedule_id: str
    user: str
    start: datetime
    end: datetime
    layer: str | None = None
    note: str = ""
    created_by: str | None = None
    created_at: datetime
    swap_id: str | None = None  # the two overrides of one swap share it

    def as_override(self) -> Override:
        """The override as the schedule resolver takes it."""
        return Override(user=self.user, start=self.start, end=self.end, layer=self.layer)


@attrs.frozen(kw_only=True)
class IncidentNote:
    """A note someone wrote on an incident."""

    id: str
    incident_id: str
    at: datetime
    by: str | None = None
    text: str


@attrs.frozen(kw_only=True)
class HeartbeatState:
    """Where one heartbeat monitor stands: armed since ``armed_at``, pinged last at ``last_ping``, due to be
    pinged again by ``due_at``; ``incident_id`` is the incident its last miss opened while that is open.
    ``version`` is compare-and-set, so of several instances only one opens the incident for a miss."""

    name: str
    armed_at: datetime
    due_at: datetime
    last_ping: datetime | None = None
    incident_id: str | None = None
    misses: int = 0
    version: int = 1


class WindowSource(enum.StrEnum):
    """Where a maintenance window comes from: made through the API, or one occurrence of a config window
    (stored only once it is ended early)."""

    API = "api"
    CONFIG = "config"


@attrs.frozen(kw_only=True)
class MaintenanceWindow:
    """A maintenance window: incidents ``match`` holds that arrive from ``start`` until ``end`` page nobody
    until it ends; then those still open escalate or are dropped (``on_end``). ``ended_at`` is set when it was
    ended early."""

    id: str
    start: datetime
    end: datetime
    match: MaintenanceMatch = attrs.field(factory=MaintenanceMatch)
    on_end: OnEnd = OnEnd.ESCALATE
    reason: str = ""
    created_by: str | None = None
    created_at: datetime
    source: WindowSource = WindowSource.API
    ended_at: datetime | None = None
    ended_by: str | None = None

    @property
    def closes(self) -> datetime:
        """When it stops holding incidents: its end, or when it was ended early."""
        return self.ended_at if self.ended_at is not None and self.ended_at < self.end else self.end

    def active_at(self, instant: datetime) -> bool:
        """Whether it holds incidents that arrive at ``instant``."""
        return self.start <= instant < self.closes


@attrs.frozen(kw_only=True)
class Suppression:
    """An incident a maintenance window held when it arrived: it pages nobody until ``until`` (the window's
    end), and then escalates or is dropped (``on_end``)."""

    incident_id: str
    window_id: str
    at: datetime
    until: datetime
    on_end: OnEnd
    reason: str = ""
