"""The incident list's filters and cursor paging (``GET /v1/incidents``).

Incidents are listed newest first (in the reverse of the order they were first saved). Without filters a page
is read in one store query. With filters (``status``, ``severity``, ``policy``,
``label``, ``since``) the store is read newest first, a batch at a time, and each incident tested; at most
:data:`SCAN_BUDGET` incidents are looked at per request, so a filter that matches little may answer a page with
fewer than ``limit`` incidents and a ``next_cursor``: follow it until it is null (``offset`` skips that many
matching incidents, within the same budget). A cursor is a position in that order, so incidents raised between
two requests never shift the next page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from tocsin.models import Incident, IncidentState, Severity
from tocsin.server.views import IncidentPage
from tocsin.store.interfaces import EscalationStore, IncidentStore

__all__ = ["CURSOR_PATTERN", "SCAN_BUDGET", "IncidentFilter", "list_of", "parse_filter", "search_incidents"]

SCAN_BUDGET = 2000  # incidents one filtered request looks at, at most
_BATCH = 200


@attrs.frozen(kw_only=True)
class IncidentFilter:
    """What the incidents listed must be: open, in one of ``states``, of one of ``severities``, escalated by
    ``policy``, carrying each of ``labels``, raised at or after ``since`` (each None or empty: any)."""

    open_only: bool = False
    states: frozenset[IncidentState] = frozenset()
    severities: frozenset[Severity] = frozenset()
    policy: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    since: datetime | None = None

    @property
    def tests_each(self) -> bool:
        """Whether incidents must be tested one by one (more than "open" is asked)."""
        return bool(self.states or self.severities or self.policy is not None or self.labels or self.since)

    def matches(self, incident: Incident, policy_of: Mapping[str, str]) -> bool:
        """Whether ``incident`` (whose latest escalation's policy ``policy_of`` gives) is one to list."""
        if self.states and incident.state not in self.states:
            return False
        if self.severities and incident.severity not in self.severities:
            return False
        if self.since is not None and incident.created_at < self.since:
            return False
        if self.policy is not None and policy_of.get(incident.id) != self.policy:
            return False
        labels = incident.labels
        return all(labels.get(key) == value for key, value in self.labels)


def parse_filter(params: Mapping[str, Any]) -> IncidentFilter:
    """The filter the query ``params`` ask for (their values already checked against the parameters' patterns:
    ``status`` and ``severity`` comma-separated names, each ``label`` a ``key=value``)."""
    since = params.get("since")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # an incident list has no time zone of its own: without an offset, UTC
    return IncidentFilter(
        open_only=params.get("open", False),
        states=_members(params.get("status", ()), IncidentState),
        severities=_members(params.get("severity", ()), Severity),
        policy=params.get("policy"),
        labels=tuple((key, value) for key, _, value in (text.partition("=") for text in params.get("label", ()))),
        since=since,
    )


def _members(given: Iterable[str], kind: Any) -> frozenset[Any]:
    return frozenset(kind(part) for text in given for part in text.split(","))


CURSOR_PATTERN = "[1-9][0-9]{0,17}"  # a cursor is a position in the list (pass next_cursor back as it is)


def _policies(escalations: EscalationStore, incident_ids: list[str]) -> dict[str, str]:
    """Incident id -> the policy its latest escalation runs, for those that have one (one indexed read)."""
    return {incident_id: found.policy_id for incident_id, found in escalations.escalation_index(incident_ids).items()}


def list_of(kind: Any) -> str:
    """A pattern for one or more of the enum ``kind``'s values, comma-separated."""
    one = "|".join(member.value for member in kind)
    return f"(?:{one})(?:,(?:{one}))*"


def encode_cursor(position: int) -> str:
    """The cursor of a position."""
    return str(position)


def decode_cursor(cursor: str) -> int:
    """The position a cursor names (the query parameter's pattern was checked already)."""
    return int(cursor)


def search_incidents(
    incidents: IncidentStore,
    escalations: EscalationStore,
    wanted: IncidentFilter,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
) -> IncidentPage:
    """One page of the incidents ``wanted``, newest first, from ``cursor`` (or after skipping ``offset``)."""
    before = decode_cursor(cursor) if cursor is not None else None
    if not wanted.tests_each:
        found = incidents.scan_incidents(before=before, limit=limit + 1, open_only=wanted.open_only, skip=offset)
        more = len(found) > limit
        page = found[:limit]
        return IncidentPage(
            incidents=tuple(incident for _, incident in page),
            offset=offset,
            limit=limit,
            next_offset=offset + limit if more else None,
            next_cursor=encode_cursor(page[-1][0]) if more else None,
        )
    matches: list[tuple[int, Incident]] = []
    skipped, examined, position, exhausted = 0, 0, before, False
    while len(matches) <= limit and examined < SCAN_BUDGET:
        batch = incidents.scan_incidents(before=position, limit=_BATCH, open_only=wanted.open_only)
        if not batch:
            exhausted = True
            break
        policy_of = _policies(escalations, [incident.id for _, incident in batch]) if wanted.policy else {}
        for place, incident in batch:
            examined += 1
            position = place
            if wanted.matches(incident, policy_of):
                if skipped < offset:
                    skipped += 1
                    continue
                matches.append((place, incident))
                if len(matches) > limit:
                    break
            if examined >= SCAN_BUDGET:
                break
    page = matches[:limit]
    if len(matches) > limit:
        following: int | None = page[-1][0]
    else:
        following = None if exhausted or position is None else position  # a short page, looked no further
    return IncidentPage(
        incidents=tuple(incident for _, incident in page),
        offset=offset,
        limit=limit,
        next_offset=offset + limit if len(matches) > limit else None,
        next_cursor=encode_cursor(following) if following is not None else None,
    )
