"""Helpers for the store tests: every store implementation behind one fixture, and rows to put in them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

import tocsin
from support.plugins import builtin_plugins
from tocsin.instants import to_micros
from tocsin.plugins.channel_webhook import WebhookContact
from tocsin.store.operations import InMemoryOperations
from tocsin.store.sqlite.store import SQLiteStore
from tocsin.targets.team import TeamTarget
from tocsin.targets.user import UserTarget

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
plugins = builtin_plugins


@attrs.define
class Stores:
    """An escalation store and an incident store of one kind, and how to get them back after a "restart"."""

    kind: str
    escalations: Any
    incidents: Any
    clock: tocsin.ManualClock
    reopen: Callable[[], Stores]
    operations: Any = None  # overrides, notes, heartbeats, maintenance windows (tocsin.store.operations)


def memory_stores(clock: tocsin.ManualClock) -> Stores:
    escalations = tocsin.InMemoryStore()
    incidents = tocsin.InMemoryIncidentStore(clock, unit=escalations)
    operations = InMemoryOperations(unit=escalations)

    def reopen() -> Stores:
        # the same objects: a new engine on them
        return Stores("memory", escalations, incidents, clock, reopen, operations)

    return Stores("memory", escalations, incidents, clock, reopen, operations)


def sqlite_stores(clock: tocsin.ManualClock, path: Path, opened: list[SQLiteStore]) -> Stores:
    store = SQLiteStore(path, plugins().registry, clock=clock)
    opened.append(store)

    def reopen() -> Stores:
        store.close()
        return sqlite_stores(clock, path, opened)

    return Stores("sqlite", store, store.incidents, clock, reopen, store.operations)


def postgres_stores(clock: tocsin.ManualClock, dsn: str, opened: list[Any]) -> Stores:
    from tocsin.store.postgres.store import PostgresStore

    store = PostgresStore(dsn, plugins().registry, clock=clock)
    opened.append(store)

    def reopen() -> Stores:
        store.close()
        return postgres_stores(clock, dsn, opened)

    return Stores("postgresql", store, store.incidents, clock, reopen, store.operations)


STORE_KINDS = ["memory", "sqlite", "postgresql"]


def open_stores(kind: str, directory: Path, request: Any = None) -> Iterator[Stores]:
    """Yield stores of ``kind`` ("memory", "sqlite" in a fresh file under ``directory``, or "postgresql" in a
    fresh database of the test server, for which the test's ``request`` is needed); close them after."""
    clock = tocsin.ManualClock(START)
    opened: list[Any] = []
    if kind == "memory":
        yield memory_stores(clock)
    elif kind == "postgresql":
        yield postgres_stores(clock, request.getfixturevalue("postgres_dsn"), opened)
    else:
        yield sqlite_stores(clock, directory / "tocsin.db", opened)
    for store in opened:
        store.close()


def incident(incident_id: str = "inc-1", **fields: Any) -> tocsin.Incident:
    fields.setdefault("severity", "P1")
    return tocsin.Incident(id=incident_id, title="High CPU", created_at=START, **fields)


def policy(policy_id: str = "standard") -> tocsin.EscalationPolicy:
    return tocsin.EscalationPolicy(
        id=policy_id,
        levels=(
            tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
            tocsin.EscalationLevel(delay_minutes=5, targets=(TeamTarget(team_id="platform"),), stop_on_ack=False),
        ),
        repeat=tocsin.RepeatConfig(max_repeats=2, interval_minutes=20),
    )


def row(
    incident_id: str = "inc-1", serial: int = 1, *, version: int = 1, status: str = "active", **fields: Any
) -> tocsin.EscalationRow:
    values: dict[str, Any] = {
        "escalation_id": f"{incident_id}#{serial}",
        "incident": incident(incident_id),
        "policy": policy(),
        "status": tocsin.EscalationStatus(status),
        "pass_number": 0,
        "level": -1,
        "anchor": to_micros(START),
        "round": 0,
        "started_at": to_micros(START),
        "acknowledged_by": None,
        "acknowledged_at": None,
        "acknowledged_level": None,
        "ended_at": None,
        "next_due": to_micros(START),
        "version": version,
    }
    values.update(fields)
    return tocsin.EscalationRow(**values)


def notification(
    key: str, escalation_id: str = "inc-1#1", *, address: str = "oncall@example.com", channel: str = "log"
) -> tocsin.Notification:
    contact = (
        WebhookContact(url="https://hooks.example.com/a", headers={"x-team": "db"}) if channel == "webhook" else None
    )
    return tocsin.Notification(
        key=key,
        incident_id=escalation_id.partition("#")[0],
        policy_id="standard",
        pass_number=0,
        level=0,
        recipient=tocsin.Recipient(address=address, channel=channel, target="user", contact=contact),
        due_at=START,
        incident=incident(escalation_id.partition("#")[0], labels={"team": "db"}, payload={"n": [1, 2]}),
        escalation_id=escalation_id,
        fired_at=START,
    )


def event(kind: str, minute: int = 0, **fields: Any) -> tocsin.EscalationEvent:
    return tocsin.EscalationEvent(at=START + timedelta(minutes=minute), kind=kind, **fields)


def answer(key: str, attempt: int, ok: bool, detail: str = "", minute: float = 0) -> tocsin.DeliveryResult:
    return tocsin.DeliveryResult(key=key, ok=ok, detail=detail, attempts=attempt, at=START + timedelta(minutes=minute))
