"""The console's incident list: which incidents a filter keeps, one page of them, and what each row shows.

Incidents are listed newest first. The unfiltered views ("open", "all") are one store query per page. A filter
the store cannot answer (acknowledged, resolved, severity, policy, label) reads the store newest first, a batch
at a time, and tests each incident, cheap tests first; it looks at no more than :data:`SCAN_BUDGET` incidents
per page and says so when it stopped there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

import attrs

from tocsin.models import Delivery, EscalationStatus, Incident, Severity
from tocsin.server.service import Service
from tocsin.store.interfaces import EscalationRow, IndexedEscalation

__all__ = ["PAGE_SIZE", "SCAN_BUDGET", "STATUSES", "IncidentFilter", "IncidentRow", "RowPage", "list_rows"]

PAGE_SIZE = 25
SCAN_BUDGET = 5000  # incidents one filtered page looks at, at most
STATUSES = ("open", "acknowledged", "resolved", "all")
_BATCH = 200


@attrs.frozen(kw_only=True)
class IncidentFilter:
    """What the list shows: ``status`` is one of :data:`STATUSES` (``open``: not Resolved or Closed;
    ``acknowledged``: open with an acknowledged escalation), and optionally one severity, one policy and one
    ``key=value`` label."""

    status: str = "open"
    severity: Severity | None = None
    policy: str | None = None
    label: tuple[str, str] | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[IncidentFilter, list[str]]:
        """The filter a page's query string asks for, and a sentence for each value that was ignored."""
        faults: list[str] = []
        status = query.get("status") or "open"
        if status not in STATUSES:
            faults.append(f"status {status!r} is not one of {', '.join(STATUSES)}")
            status = "open"
        severity = None
        if query.get("severity"):
            try:
                severity = Severity(query["severity"].upper())
            except ValueError:
                faults.append(f"severity {query['severity']!r} is not one of P0 to P4")
        label = None
        if query.get("label"):
            key, equals, value = query["label"].partition("=")
            if key.strip() and equals:
                label = (key.strip(), value.strip())
            else:
                faults.append(f"label {query['label']!r} is not key=value")
        return cls(status=status, severity=severity, policy=query.get("policy") or None, label=label), faults

    @property
    def open_only(self) -> bool:
        """Whether only open incidents can match."""
        return self.status in ("open", "acknowledged")

    @property
    def plain(self) -> bool:
        """Whether the store answers this filter itself (no incident needs testing)."""
        return self.status in ("open", "all") and self.severity is None and self.policy is None and not self.label

    def query(self) -> dict[str, str]:
        """The query string values that ask for this filter (what links keep)."""
        values = {"status": self.status}
        if self.severity is not None:
            values["severity"] = self.severity.value
        if self.policy:
            values["policy"] = self.policy
        if self.label:
            values["label"] = f"{self.label[0]}={self.label[1]}"
        return values

    def keeps_incident(self, incident: Incident) -> bool:
        """Whether ``incident``'s own fields pass (status, severity, label)."""
        if self.status == "resolved" and incident.state.is_open:
            return False
        if self.severity is not None and incident.severity is not self.severity:
            return False
        return self.label is None or incident.labels.get(self.label[0]) == self.label[1]

    def keeps_escalation(self, latest: IndexedEscalation | None) -> bool:
        """Whether the incident's latest escalation (None: it has none) passes (acknowledged, policy)."""
        if self.status == "acknowledged" and (latest is None or latest.status is not EscalationStatus.ACKNOWLEDGED):
            return False
        return self.policy is None or (latest is not None and latest.policy_id == self.policy)


@attrs.frozen(kw_only=True)
class IncidentRow:
    """One line of the list: the incident, its status, its escalation's level and who was paged last."""

    incident: Incident
    status: str
    level: int | None  # the last level that fired (None: no escalation; -1: none fired yet)
    levels: int | None  # how many levels its policy has
    policy_id: str | None
    last_paged: Delivery | None


@attrs.frozen(kw_only=True)
class RowPage:
    """One page of rows; ``next_offset`` None on the last page. ``stopped_after`` is set when a filtered page
    stopped looking after that many incidents (there may be more that match further back)."""

    rows: tuple[IncidentRow, ...]
    offset: int
    next_offset: int | None
    now: datetime
    stopped_after: int | None = None


def list_rows(service: Service, wanted: IncidentFilter, *, offset: int = 0, limit: int = PAGE_SIZE) -> RowPage:
    """The page of incidents ``wanted`` keeps, starting after ``offset`` matches, newest first."""
    escalations = service.storage.escalations
    loaded: dict[str, EscalationRow | None] = {}
    stopped = None
    if wanted.plain:
        found = service.storage.incidents.list_incidents(open_only=wanted.open_only, limit=limit + 1, offset=offset)
    else:
        found = []
        looked = 0
        for batch in _batches(service, wanted.open_only):
            if looked >= SCAN_BUDGET:
                stopped = SCAN_BUDGET
                break
            batch = batch[: SCAN_BUDGET - looked]
            looked += len(batch)
            kept = [incident for incident in batch if wanted.keeps_incident(incident)]
            if wanted.status == "acknowledged" or wanted.policy is not None:  # one indexed read per batch
                index = escalations.escalation_index([incident.id for incident in kept])
                kept = [incident for incident in kept if wanted.keeps_escalation(index.get(incident.id))]
            for incident in kept:
                found.append(incident)
                if len(found) > offset + limit:
                    break
            if len(found) > offset + limit:
                break
        found = found[offset:]
    rows = []
    for incident in found[:limit]:
        row = loaded[incident.id] if incident.id in loaded else escalations.load(incident.id)
        rows.append(_row(service, incident, row))
    more = len(found) > limit
    return RowPage(
        rows=tuple(rows),
        offset=offset,
        next_offset=offset + limit if more else None,
        now=service.clock.now(),
        stopped_after=stopped,
    )


def _batches(service: Service, open_only: bool) -> Iterator[list[Incident]]:
    """The store's incidents newest first, :data:`_BATCH` at a time."""
    store = service.storage.incidents
    start = 0
    while True:
        batch = store.list_incidents(open_only=open_only, limit=_BATCH, offset=start)
        if batch:
            yield batch
        if len(batch) < _BATCH:
            return
        start += _BATCH


def _row(service: Service, incident: Incident, row: EscalationRow | None) -> IncidentRow:
    if row is None:
        status = "resolved" if not incident.state.is_open else incident.state.value.lower()
        return IncidentRow(incident=incident, status=status, level=None, levels=None, policy_id=None, last_paged=None)
    deliveries = service.storage.escalations.deliveries(row.escalation_id)
    pages = [delivery for delivery in deliveries if delivery.notification.level >= 0]
    status = "resolved" if not incident.state.is_open else row.status.value
    return IncidentRow(
        incident=incident,
        status=status,
        level=row.level,
        levels=len(row.policy.levels),
        policy_id=row.policy.id,
        last_paged=pages[-1] if pages else None,
    )
