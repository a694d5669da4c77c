"""Run-time changes in a scenario: overrides, maintenance windows and heartbeat pings, as the server makes them.

```yaml
events:
  - {at: 0m, action: maintenance, duration: 1h, match: {labels: {env: staging}}, on_end: escalate}
  - {at: 10m, action: override, schedule: primary-oncall, user: eng3@example.com, duration: 2h}
  - {at: 3h, action: heartbeat, name: nightly-backup}
```

An override puts ``user`` on call from the event's time for ``duration`` (on ``layer`` only, when given); a
maintenance window opens at the event's time for ``duration``; a heartbeat event is a ping. The config's
heartbeats are armed at the scenario's ``start``, and a missed one opens its incident in the timeline, as the
server would. Changes at ``0m`` take effect before the scenario's incident arrives. They run through the same
code as the HTTP API (:class:`~tocsin.escalation.overrides.RuntimeOverrides`,
:class:`~tocsin.intake.maintenance.MaintenanceGate`, :class:`~tocsin.intake.heartbeats.HeartbeatMonitor`) on
the simulation's in-memory store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.errors import TocsinError
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.maintenance import ConfigWindows
from tocsin.escalation.overrides import RuntimeOverrides
from tocsin.intake.heartbeats import HeartbeatMonitor
from tocsin.intake.maintenance import MaintenanceGate
from tocsin.intake.processor import IncidentProcessor
from tocsin.manager import Plugins
from tocsin.models import FieldError, MaintenanceMatch, OnEnd
from tocsin.schedules.resolver import compile_schedule
from tocsin.store.memory import InMemoryStore
from tocsin.store.operations import InMemoryOperations
from tocsin.store.records import MaintenanceWindow, new_id
from tocsin.validators import parse_duration

__all__ = [
    "CHANGE_FIELDS",
    "HeartbeatPing",
    "MaintenanceChange",
    "OverrideChange",
    "RuntimeChange",
    "ScenarioWorld",
    "UnknownScheduleError",
    "parse_change",
]


@attrs.frozen(kw_only=True)
class OverrideChange:
    """``user`` on call on ``schedule`` (``layer`` only, when given) for ``duration`` from the event's time."""

    schedule: str
    user: str
    duration: timedelta
    layer: str | None = None


@attrs.frozen(kw_only=True)
class MaintenanceChange:
    """A maintenance window open for ``duration`` from the event's time."""

    duration: timedelta
    match: MaintenanceMatch = attrs.field(factory=MaintenanceMatch)
    on_end: OnEnd = OnEnd.ESCALATE
    reason: str = ""


@attrs.frozen(kw_only=True)
class HeartbeatPing:
    """Heartbeat ``name`` checks in."""

    name: str


RuntimeChange = OverrideChange | MaintenanceChange | HeartbeatPing

# Each change's fields besides ``at``, ``action`` and ``by``.
CHANGE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "override": ("schedule", "user", "duration", "layer"),
    "maintenance": ("duration", "match", "on_end", "reason"),
    "heartbeat": ("name",),
}


def parse_change(action: str, item: Mapping[str, Any], path: str, fault: Callable[[str, str], None]) -> Any:
    """The change a scenario event of ``action`` describes, or None after reporting each fault to ``fault``."""
    found: dict[str, Any] = {}
    for key in CHANGE_FIELDS[action]:
        if key not in item:
            continue
        value = item[key]
        if key == "duration":
            try:
                value = parse_duration(value)
            except ValueError as exc:
                fault(f"{path}.{key}", str(exc))
                continue
        elif key == "match":
            value = _match(value, f"{path}.match", fault)
            if value is None:
                continue
        elif key == "on_end":
            try:
                value = OnEnd(value)
            except ValueError:
                fault(f"{path}.on_end", f"expected escalate or drop, got {value!r}")
                continue
        elif not isinstance(value, str) or not value:
            fault(f"{path}.{key}", f"expected a non-empty string, got {value!r}")
            continue
        found[key] = value
    kind: Any = {"override": OverrideChange, "maintenance": MaintenanceChange, "heartbeat": HeartbeatPing}[action]
    required = [field.name for field in attrs.fields(kind) if field.default is attrs.NOTHING]
    missing = [name for name in required if name not in found and name not in item]
    for name in missing:
        fault(f"{path}.{name}", f"required for a {action} event")
    if missing or len(found) < len([key for key in CHANGE_FIELDS[action] if key in item]):
        return None
    return kind(**found)


def _match(value: Any, path: str, fault: Callable[[str, str], None]) -> MaintenanceMatch | None:
    if not isinstance(value, Mapping):
        fault(path, "expected a mapping with labels, source and/or integration")
        return None
    unknown = sorted(set(value) - {"labels", "source", "integration"}, key=str)
    for key in unknown:
        fault(path, f"unknown field {key!r}; known: integration, labels, source")
    try:
        return None if unknown else MaintenanceMatch(**value)
    except FieldError as exc:
        fault(f"{path}.{exc.field}", exc.message)
    except TypeError as exc:
        fault(path, str(exc))
    return None


class UnknownScheduleError(TocsinError, LookupError):
    """An override names a schedule the config does not have."""


class ScenarioWorld:
    """What a scenario's run-time changes act on: the store of overrides, windows and heartbeats, and an
    incident processor that honours the maintenance windows. ``report`` is told of each heartbeat miss."""

    def __init__(
        self,
        engine: EscalationEngine,
        store: InMemoryStore,
        config: Config,
        plugins: Plugins,
        clock: Clock,
        report: Callable[[str, str, dict[str, object]], None],
    ) -> None:
        self._clock = clock
        self._config = config
        self._engine = engine
        self.operations = InMemoryOperations(unit=store)
        self.overrides = RuntimeOverrides(self.operations, clock)
        engine.executor().use_overrides(self.overrides.in_force)
        self.gate = MaintenanceGate(ConfigWindows(config.maintenance), self.operations, clock)
        self.processor = IncidentProcessor(
            engine,
            rules=config.rules,
            notify_channels=config.notify_channels,
            maintenance=self.gate,
            playbooks=config.playbooks,
        )
        self.heartbeats = HeartbeatMonitor(self.operations, store, clock, report=report)
        self.heartbeats.configure(config.heartbeats, self.processor, read_secrets=False)
        engine.monitor.add_timer(self.heartbeats)
        self._resolvers = {schedule.id: compile_schedule(schedule, plugins.registry) for schedule in config.schedules}
        self._people = config.people()

    def apply(self, change: RuntimeChange, by: str | None) -> dict[str, Any]:
        """Make ``change`` now; returns the timeline entry's fields (``event`` and what it did).

        :raises TocsinError: the change is refused (an unknown schedule, person or heartbeat, a past start).
        """
        now = self._clock.now()
        if isinstance(change, OverrideChange):
            resolver = self._resolvers.get(change.schedule)
            if resolver is None:
                known = ", ".join(sorted(self._resolvers)) or "(none)"
                raise UnknownScheduleError(f"unknown schedule {change.schedule!r}; known: {known}")
            made = self.overrides.add(
                resolver,
                user=change.user,
                start=now,
                end=now + change.duration,
                layer=change.layer,
                by=by,
                people=self._people,
            )
            return {"event": "override", "schedule": made.schedule_id, "user": made.user, "until": _iso(made.end)}
        if isinstance(change, MaintenanceChange):
            window = MaintenanceWindow(
                id=new_id(),
                start=now,
                end=now + change.duration,
                match=change.match,
                on_end=change.on_end,
                reason=change.reason,
                created_by=by,
                created_at=now,
            )
            self.gate.add(window)
            return {
                "event": "maintenance",
                "window": window.id,
                "until": _iso(window.end),
                "on_end": window.on_end.value,
            }
        ping = self.heartbeats.ping(change.name)
        return {"event": "heartbeat", "name": change.name, "resolved": ping.resolved}


def _iso(moment: datetime) -> str:
    return moment.isoformat()
