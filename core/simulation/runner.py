"""Run a scenario in virtual time and compare it with its expectations (``tocsin simulate`` / ``tocsin test``).

The simulation uses the real engine and processor (with the maintenance windows and heartbeats of the config,
and the scenario's run-time changes) on a ``ManualClock`` and an in-memory store. Nothing is delivered, no
playbook runs and no observer hook is called: notifications and playbook runs stay in the outbox, which records
what would be sent, to whom, through which channel. The timeline is built from the escalation's journal and
outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import attrs

from tocsin.clock import ManualClock
from tocsin.config import Config
from tocsin.delivery.channels import ChannelSet
from tocsin.delivery.outbox import MemorySink
from tocsin.errors import ConfigError, TocsinError
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.errors import EscalationError
from tocsin.intake.processor import IncidentProcessor
from tocsin.manager import Plugins
from tocsin.models import Urgency
from tocsin.registry import PLAYBOOK_CHANNEL
from tocsin.simulation.changes import ScenarioWorld
from tocsin.simulation.scenario import ExpectedPage, Scenario, ScenarioEvent
from tocsin.store.memory import InMemoryStore
from tocsin.wallclock import load_zone

__all__ = ["SimulationResult", "compare", "describe_page", "simulate"]


@attrs.frozen(kw_only=True)
class SimulationResult:
    """The timeline of one scenario run and the escalation's final status (None: nothing escalated)."""

    scenario: Scenario
    timeline: tuple[dict[str, Any], ...]
    status: str | None

    def pages(self) -> list[dict[str, Any]]:
        """The ``notify`` entries: every page the escalation would have sent."""
        return [entry for entry in self.timeline if entry["event"] == "notify"]

    def to_json(self) -> dict[str, Any]:
        """``{"timeline": [...], "status": ...}`` as ``tocsin simulate --json`` prints it."""
        return {"timeline": list(self.timeline), "status": self.status}


def simulate(scenario: Scenario, config: Config, plugins: Plugins) -> SimulationResult:
    """Process the scenario's incident at ``start``, apply its events at their times, run until ``until``.

    Run-time changes (overrides, maintenance windows, heartbeat pings: :mod:`tocsin.simulation.changes`) at
    ``0m`` take effect before the incident arrives; a heartbeat of the config that misses opens its incident,
    whose escalation is in the timeline too (its entries carry ``incident``).
    """
    plugins = plugins.configured(config.plugins)
    clock = ManualClock(scenario.start)
    store = InMemoryStore()
    channels = ChannelSet(plugins.registry, config.channels, every_channel=MemorySink("simulated: not delivered"))
    engine = EscalationEngine(plugins, store, clock=clock, config=config, channels=channels, observe=False)
    timeline: list[tuple[datetime, float, dict[str, Any]]] = []
    stamp = _Stamp(scenario.start, load_zone(scenario.timezone).tzinfo if scenario.timezone else None)
    incident_id = scenario.incident.id
    others: list[tuple[str, float]] = []  # incidents heartbeats opened, with where their entries go

    def journal_size() -> int:
        state = engine.get_escalation_state(incident_id)
        return len(state.events) if state is not None else 0

    def missed(kind: str, name: str, detail: dict[str, object]) -> None:
        if kind == "heartbeat.missed":
            at, key = clock.now(), journal_size() - 0.25
            opened = str(detail["incident"])
            timeline.append((at, key, stamp(at, "heartbeat_missed", name=name, incident=opened)))
            others.append((opened, key))

    world = ScenarioWorld(engine, store, config, plugins, clock, missed)
    processor = world.processor
    events = sorted(scenario.events, key=lambda e: e.at)
    before = [event for event in events if event.change is not None and not event.at]
    for event in before:
        _change(world, event, clock, stamp, timeline, -2.0)
    result = processor.process(scenario.incident)
    processed = stamp(scenario.start, "incident_processed", matched=list(result.matched_rules))
    processed["policy"] = result.policy_id  # null when no policy applies
    if result.suppressed is not None:
        processed.update(suppressed=result.suppressed, window=result.maintenance_window)
    timeline.append((scenario.start, -1.0, processed))

    for event in events:
        if event in before:
            continue
        engine.run_until(scenario.start + event.at)
        if event.change is not None:
            _change(world, event, clock, stamp, timeline, journal_size() - 0.5)
            continue
        try:
            _apply(engine, processor, incident_id, event)
        except EscalationError as exc:
            entry = stamp(clock.now(), "rejected", action=event.action, by=event.by, detail=str(exc))
            timeline.append((clock.now(), journal_size() - 0.5, entry))
    engine.run_until(scenario.start + scenario.until)

    state = engine.get_escalation_state(incident_id)
    for delivery in store.all_deliveries():
        notification = delivery.notification
        at = notification.fired_at or notification.due_at
        if notification.recipient.channel == PLAYBOOK_CHANNEL:  # queued, as serve would; not run
            timeline.append((at, -0.5, stamp(at, "playbook", playbook=notification.recipient.address)))
        elif notification.escalation_id == "":
            entry = stamp(at, "announce")
            entry.update(recipient=notification.recipient.address, channel=notification.recipient.channel)
            timeline.append((at, -0.5, entry))
    if state is not None:
        timeline.extend(_journal(state, stamp))
    for opened, key in others:
        other = engine.get_escalation_state(opened)
        if other is not None:
            for at, order, entry in _journal(other, stamp):
                timeline.append((at, key + (order + 1) / 1000, {**entry, "incident": opened}))
    timeline.sort(key=lambda item: (item[0], item[1]))
    return SimulationResult(
        scenario=scenario,
        timeline=tuple(entry for _, _, entry in timeline),
        status=state.status.value if state is not None else None,
    )


def _change(
    world: ScenarioWorld,
    event: ScenarioEvent,
    clock: ManualClock,
    stamp: _Stamp,
    timeline: list[tuple[datetime, float, dict[str, Any]]],
    key: float,
) -> None:
    """Make a run-time change now and put it (or why it was refused) in the timeline."""
    now = clock.now()
    assert event.change is not None
    try:
        fields = world.apply(event.change, event.by)
    except ConfigError as exc:
        detail = "; ".join(f"{issue.path.removeprefix('$.')}: {issue.message}" for issue in exc.issues)
        timeline.append((now, key, stamp(now, "rejected", action=event.action, by=event.by, detail=detail)))
        return
    except TocsinError as exc:
        timeline.append((now, key, stamp(now, "rejected", action=event.action, by=event.by, detail=str(exc))))
        return
    kind = fields.pop("event")
    timeline.append((now, key, stamp(now, kind, by=event.by, **fields)))


def _apply(engine: EscalationEngine, processor: IncidentProcessor, incident_id: str, event: ScenarioEvent) -> None:
    action, by = event.action, event.by
    if action == "acknowledge":
        engine.acknowledge_escalation(incident_id, by or "simulation")
    elif action == "resolve":
        processor.resolve_incident(incident_id, by=by)
    elif action == "cancel":
        engine.cancel_escalation(incident_id, by=by)
    elif action == "snooze":
        engine.snooze(incident_id, event.minutes or 0, by=by)
    else:
        engine.escalate_now(incident_id, by=by)


class _Stamp:
    def __init__(self, start: datetime, zone: tzinfo | None = None) -> None:
        self._start = start
        self._zone = zone or start.tzinfo  # the scenario's time zone, else its start's offset

    def __call__(self, at: datetime, event: str, **fields: Any) -> dict[str, Any]:
        minutes = (at - self._start) / timedelta(minutes=1)
        minute: float | int = int(minutes) if minutes == int(minutes) else round(minutes, 3)
        entry: dict[str, Any] = {"at": at.astimezone(self._zone).isoformat(), "minute": minute, "event": event}
        entry.update({key: value for key, value in fields.items() if value is not None})
        return entry


def _journal(state: Any, stamp: _Stamp) -> list[tuple[datetime, float, dict[str, Any]]]:
    pages: dict[tuple[Any, int, int], list[Any]] = {}
    for delivery in state.deliveries:
        notification = delivery.notification
        if notification.recipient.channel == PLAYBOOK_CHANNEL:
            continue  # shown with the announcements
        group = (notification.fired_at, notification.pass_number, notification.level)
        pages.setdefault(group, []).append(notification)
    entries: list[tuple[datetime, float, dict[str, Any]]] = []
    for order, event in enumerate(state.events):
        fields: dict[str, Any] = {}
        if event.kind in _AT_LEVEL:
            fields.update(level=event.level, **{"pass": event.pass_number})
        if event.kind == "started":
            fields["policy"] = state.policy.id
        if event.by is not None:
            fields["by"] = event.by
        if event.late:
            fields["late"] = True
        if event.kind in _DETAILED:
            fields["detail"] = event.detail
        if event.kind != "announced":
            entries.append((event.at, float(order), stamp(event.at, event.kind, **fields)))
        if event.kind in ("level_fired", "announced", "rotated"):
            for notification in pages.pop((event.at, event.pass_number, event.level), []):
                recipient = notification.recipient
                if notification.level < 0:
                    entry = stamp(event.at, "announce", recipient=recipient.address, channel=recipient.channel)
                else:
                    entry = stamp(event.at, "notify", level=notification.level, recipient=recipient.address)
                    entry = {**entry, "pass": notification.pass_number, "channel": recipient.channel}
                    entry = {
                        key: entry[key] for key in ("at", "minute", "event", "level", "pass", "recipient", "channel")
                    }
                    if recipient.urgency is Urgency.LOW:
                        entry["urgency"] = Urgency.LOW.value
                entries.append((event.at, float(order), entry))
    return entries


# Journal kinds shown in the timeline with their level and pass, and those shown with their detail.
_AT_LEVEL = frozenset(
    (
        "level_fired",
        "ack_timeout",
        "escalated",
        "unresolved",
        "target_failed",
        "level_skipped",
        "rotated",
        "ack_received",
        "snooze_ended",
    )
)
_DETAILED = frozenset(
    (
        "unresolved",
        "target_failed",
        "ack_timeout",
        "level_skipped",
        "rotated",
        "ack_received",
        "snoozed",
        "snooze_ended",
    )
)


def compare(result: SimulationResult) -> list[str]:
    """The differences between a result and its scenario's ``expect`` block, one readable line each."""
    expect = result.scenario.expect
    if expect is None:
        return ["the scenario has no expect block"]
    pages = result.pages()
    unmatched = list(range(len(pages)))
    lines: list[str] = []
    for wanted in expect.pages:
        found = next((index for index in unmatched if _matches(pages[index], wanted)), None)
        if found is None:
            lines.append(f"- missing page:    {_wanted(wanted)}")
        else:
            unmatched.remove(found)
    if expect.no_more_pages:
        lines.extend(f"+ unexpected page: {_actual(pages[index])}" for index in unmatched)
    if expect.status is not None and result.status != expect.status.value:
        lines.append(f"  status: expected {expect.status.value}, got {result.status or 'no escalation'}")
    return lines


def _matches(page: dict[str, Any], wanted: ExpectedPage) -> bool:
    return (
        abs(page["minute"] * 60 - wanted.at.total_seconds()) < 1e-6
        and (wanted.level is None or page["level"] == wanted.level)
        and (wanted.pass_number is None or page["pass"] == wanted.pass_number)
        and (wanted.recipient is None or page["recipient"] == wanted.recipient)
    )


def _minutes(value: float) -> str:
    return f"{value:g}m"


def _wanted(page: ExpectedPage) -> str:
    parts = [f"at {_minutes(page.at.total_seconds() / 60)}"]
    if page.level is not None:
        parts.append(f"level {page.level}")
    if page.pass_number is not None:
        parts.append(f"pass {page.pass_number}")
    parts.append(f"to {page.recipient}" if page.recipient is not None else "to anyone")
    return " ".join(parts)


def _actual(page: dict[str, Any]) -> str:
    return (
        f"at {_minutes(page['minute'])} level {page['level']} pass {page['pass']} to {page['recipient']} "
        f"(via {page['channel']})"
    )


def describe_page(page: dict[str, Any]) -> str:
    """One line for a timeline ``notify`` entry: ``at 5m level 1 pass 0 to a@example.com (via log)``."""
    return _actual(page)
