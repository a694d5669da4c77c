"""Scenario files: an incident, what people do and when, how long to watch, and what should be paged.

```yaml
name: P1 at 03:00 on a Sunday           # optional
start: "2026-03-01T03:00:00-05:00"      # ISO 8601; without an offset it is UTC (or in ``timezone``)
timezone: America/New_York              # optional: the timeline shows local times in this zone
incident: {title: Database down, severity: P1, incident_type: Infrastructure}
events:
  - {at: 7m, action: acknowledge, by: engineer1@example.com}   # acknowledge | resolve | cancel | escalate | snooze
  - {at: 9m, action: snooze, minutes: 30, by: engineer1@example.com}  # snooze needs minutes
  - {at: 10m, action: override, schedule: primary-oncall, user: eng3@example.com, duration: 2h}
  # and: maintenance (duration, match, on_end, reason), heartbeat (name): see tocsin.simulation.changes
until: 2h                                # how long to run (default 1d)
expect:
  pages:
    - {at: 0m, level: 0, recipient: oncall@example.com}
    - {at: 5m, level: 1, recipient: team-lead@example.com}
  no_more_pages: true
  status: acknowledged                   # optional: the escalation's final status
```

Durations are ``<number>(s|m|h|d)``. Errors name the file and the path: ``FILE: $.events[0].at: …``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import attrs

from tocsin.config import read_document
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.incidents import incident_from_json
from tocsin.models import EscalationStatus, Incident
from tocsin.simulation.changes import CHANGE_FIELDS, RuntimeChange, parse_change
from tocsin.validators import parse_duration
from tocsin.wallclock import UnknownTimeZoneError, load_zone

__all__ = [
    "ACTIONS",
    "RESPONSES",
    "Expectation",
    "ExpectedPage",
    "Scenario",
    "ScenarioEvent",
    "load_scenario",
    "parse_duration",
]

RESPONSES = ("acknowledge", "resolve", "cancel", "escalate", "snooze")
ACTIONS = (*RESPONSES, *CHANGE_FIELDS)  # people's responses, then run-time changes (tocsin.simulation.changes)


@attrs.frozen(kw_only=True)
class ScenarioEvent:
    """Something a person does ``at`` into the scenario (``minutes``: how long a snooze lasts; ``change``: the
    override, maintenance window or heartbeat ping of a run-time change)."""

    at: timedelta
    action: str
    by: str | None = None
    minutes: int | None = None
    change: RuntimeChange | None = None


@attrs.frozen(kw_only=True)
class ExpectedPage:
    """A page that must happen: at ``at``, optionally of ``level``, pass ``pass_number``, to ``recipient``."""

    at: timedelta
    level: int | None = None
    recipient: str | None = None
    pass_number: int | None = None


@attrs.frozen(kw_only=True)
class Expectation:
    """What ``tocsin test`` checks."""

    pages: tuple[ExpectedPage, ...] = ()
    no_more_pages: bool = False
    status: EscalationStatus | None = None


@attrs.frozen(kw_only=True)
class Scenario:
    """One scenario file, parsed."""

    source: str
    name: str
    start: datetime
    incident: Incident
    events: tuple[ScenarioEvent, ...] = ()
    until: timedelta = timedelta(days=1)
    expect: Expectation | None = None
    timezone: str | None = None  # the timeline's local times are in this zone (else in the start's offset)


class _Faults:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[ConfigIssue] = []

    def add(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(self.source, path, message))


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; ``ConfigError`` lists every fault as ``FILE: $.path: message``."""
    source = str(path)
    document = read_document(path)
    faults = _Faults(source)
    if not isinstance(document, Mapping):
        raise ConfigError([ConfigIssue(source, "$", "a scenario must be a mapping (start, incident, events, …)")])
    allowed = {"name", "start", "incident", "events", "until", "expect", "timezone"}
    for key in sorted(set(document) - allowed, key=str):
        faults.add("$", f"unknown field {key!r}; known: {', '.join(sorted(allowed))}")
    timezone = _timezone(document.get("timezone"), faults)
    start = _start(document.get("start"), faults, timezone)
    until = _duration(document.get("until", "1d"), "$.until", faults)
    events = _events(document.get("events") or [], faults)
    expect = _expect(document.get("expect"), faults)
    incident = _incident(document.get("incident"), start, Path(path).stem, faults)
    if faults.issues:
        raise ConfigError(faults.issues)
    assert start is not None and until is not None and incident is not None
    for index, event in enumerate(events):
        if event.at > until:
            faults.add(f"$.events[{index}].at", f"comes after until ({document.get('until', '1d')})")
    if faults.issues:
        raise ConfigError(faults.issues)
    name = document.get("name")
    return Scenario(
        source=source,
        name=name if isinstance(name, str) else Path(path).stem,
        start=start,
        incident=incident,
        events=tuple(events),
        until=until,
        expect=expect,
        timezone=timezone,
    )


def _timezone(value: Any, faults: _Faults) -> str | None:
    if value is None:
        return None
    try:
        load_zone(value)
    except UnknownTimeZoneError as exc:
        faults.add("$.timezone", str(exc))
        return None
    return cast(str, value)  # load_zone took it, and only a string names a zone


def _start(value: Any, faults: _Faults, timezone: str | None = None) -> datetime | None:
    if value is None:
        faults.add("$.start", "required field missing (an ISO 8601 date-time)")
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        faults.add("$.start", f"expected an ISO 8601 date-time such as 2026-03-01T03:00:00Z, got {value!r}")
        return None
    if value.tzinfo is not None:
        return value
    return load_zone(timezone).localize(value) if timezone is not None else value.replace(tzinfo=UTC)


def _duration(value: Any, path: str, faults: _Faults) -> timedelta | None:
    try:
        return parse_duration(value)
    except ValueError as exc:
        faults.add(path, str(exc))
        return None


def _events(raw: Any, faults: _Faults) -> list[ScenarioEvent]:
    if not isinstance(raw, list):
        faults.add("$.events", f"expected a list of events, got {raw!r}")
        return []
    events: list[ScenarioEvent] = []
    for index, item in enumerate(raw):
        path = f"$.events[{index}]"
        if not isinstance(item, Mapping):
            faults.add(path, "expected a mapping such as {at: 7m, action: acknowledge, by: someone}")
            continue
        action = item.get("action")
        change_kind = action if isinstance(action, str) and action in CHANGE_FIELDS else None
        known = {"at", "action", "by", *(CHANGE_FIELDS[change_kind] if change_kind else ("minutes",))}
        for key in sorted(set(item) - known, key=str):
            faults.add(path, f"unknown field {key!r}; known: {', '.join(sorted(known))}")
        at = _duration(item.get("at"), f"{path}.at", faults)
        if action not in ACTIONS:
            faults.add(f"{path}.action", f"expected one of {', '.join(ACTIONS)}; got {action!r}")
        by = item.get("by")
        if by is not None and not isinstance(by, str):
            faults.add(f"{path}.by", f"expected a string, got {by!r}")
        if change_kind is not None:
            change = parse_change(change_kind, item, path, faults.add)
            if at is not None and change is not None and (by is None or isinstance(by, str)):
                events.append(ScenarioEvent(at=at, action=change_kind, by=by, change=change))
            continue
        minutes = _minutes(item, action, path, faults)
        if at is not None and action in ACTIONS and (by is None or isinstance(by, str)) and minutes is not False:
            events.append(ScenarioEvent(at=at, action=action, by=by, minutes=minutes or None))
    return events


def _minutes(item: Mapping[str, Any], action: Any, path: str, faults: _Faults) -> int | bool | None:
    """A snooze's minutes (None for other actions); False when they are missing or wrong."""
    minutes = item.get("minutes")
    if action != "snooze":
        if minutes is not None:
            faults.add(f"{path}.minutes", f"only a snooze takes minutes; {action!r} does not")
            return False
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        what = "required" if minutes is None else f"got {minutes!r}"
        faults.add(f"{path}.minutes", f"a snooze needs minutes, a whole number 1 or more ({what})")
        return False
    return minutes


def _expect(raw: Any, faults: _Faults) -> Expectation | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        faults.add("$.expect", "expected a mapping with pages, no_more_pages and/or status")
        return None
    for key in sorted(set(raw) - {"pages", "no_more_pages", "status"}, key=str):
        faults.add("$.expect", f"unknown field {key!r}; known: no_more_pages, pages, status")
    pages: list[ExpectedPage] = []
    raw_pages = raw.get("pages") or []
    if not isinstance(raw_pages, list):
        faults.add("$.expect.pages", "expected a list of pages such as {at: 5m, level: 1, recipient: a@example.com}")
        raw_pages = []
    for index, item in enumerate(raw_pages):
        page = _page(item, f"$.expect.pages[{index}]", faults)
        if page is not None:
            pages.append(page)
    no_more = raw.get("no_more_pages", False)
    if not isinstance(no_more, bool):
        faults.add("$.expect.no_more_pages", f"expected true or false, got {no_more!r}")
    status = raw.get("status")
    if status is not None:
        try:
            status = EscalationStatus(status)
        except ValueError:
            known = ", ".join(member.value for member in EscalationStatus)
            faults.add("$.expect.status", f"expected one of {known}; got {status!r}")
            status = None
    return Expectation(pages=tuple(pages), no_more_pages=no_more is True, status=status)


def _page(item: Any, path: str, faults: _Faults) -> ExpectedPage | None:
    if not isinstance(item, Mapping):
        faults.add(path, "expected a mapping such as {at: 5m, level: 1, recipient: a@example.com}")
        return None
    for key in sorted(set(item) - {"at", "level", "recipient", "pass"}, key=str):
        faults.add(path, f"unknown field {key!r}; known: at, level, pass, recipient")
    at = _duration(item.get("at"), f"{path}.at", faults)
    ok = at is not None
    for key in ("level", "pass"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            faults.add(f"{path}.{key}", f"expected a whole number (0 or more), got {value!r}")
            ok = False
    recipient = item.get("recipient")
    if recipient is not None and not isinstance(recipient, str):
        faults.add(f"{path}.recipient", f"expected a string, got {recipient!r}")
        ok = False
    if not ok:
        return None
    assert at is not None
    return ExpectedPage(at=at, level=item.get("level"), recipient=recipient, pass_number=item.get("pass"))


def _incident(raw: Any, start: datetime | None, stem: str, faults: _Faults) -> Incident | None:
    if not isinstance(raw, Mapping):
        faults.add("$.incident", "required: the incident's fields (title, severity, …)")
        return None
    document = dict(raw)
    document.setdefault("id", stem)
    if start is not None:
        document.setdefault("created_at", start.isoformat())
    try:
        return incident_from_json(document, source=faults.source)
    except ConfigError as exc:
        for issue in exc.issues:
            faults.add("$.incident" + issue.path.removeprefix("$"), issue.message)
        return None
