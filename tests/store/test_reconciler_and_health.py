"""The reconciler repairs what a unit of work should never leave behind (an open incident without its
escalation, an open escalation of a resolved incident) and finds nothing on a healthy store; /health says when
the store cannot take writes; a retried POST with the same Idempotency-Key raises nothing twice. Real SQLite
files, a real server on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import attrs
import pytest
from support.server import CONFIG, RESPONDER, START, ServerThread, bearer, load
from support.store import plugins

import tocsin
from tocsin.intake.reconciler import RECONCILER
from tocsin.server import create_app
from tocsin.server.storage import sqlite_storage
from tocsin.store.sqlite.store import SQLiteStore
from tocsin.targets.user import UserTarget

POLICY = tocsin.EscalationPolicy(
    id="standard",
    levels=(
        tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
        tocsin.EscalationLevel(delay_minutes=5, targets=(UserTarget(email="lead@example.com"),)),
    ),
)


def instance(path: Path, clock: tocsin.ManualClock, sink: tocsin.MemorySink):
    store = SQLiteStore(path, plugins().registry, clock=clock)
    channels = tocsin.ChannelSet(plugins().registry, every_channel=sink)
    engine = tocsin.EscalationEngine(plugins(), store, clock=clock, channels=channels)
    engine.register_policy(POLICY)
    return store, engine, tocsin.IncidentProcessor(engine, incidents=store.incidents)


async def test_the_reconciler_finds_nothing_on_a_healthy_store_and_repairs_what_is_broken(tmp_path):
    clock, sink = tocsin.ManualClock(START), tocsin.MemorySink()
    store, engine, processor = instance(tmp_path / "tocsin.db", clock, sink)
    processor.process(tocsin.Incident(id="healthy", title="Disk full", severity="P1", created_at=START))
    assert tocsin.reconcile(processor).repairs == 0
    # What an older version could leave: an incident saved without its escalation, and a resolved incident
    # whose escalation stayed active (written around the processor, as two separate commits would have).
    store.incidents.save(tocsin.Incident(id="half-made", title="CPU", severity="P1", created_at=START))
    processor.process(tocsin.Incident(id="half-resolved", title="Memory", severity="P1", created_at=START))
    resolved = attrs.evolve(store.incidents.get("half-resolved"), state=tocsin.IncidentState.RESOLVED)
    store.incidents.save(resolved)
    done = tocsin.reconcile(processor)
    assert done.started == ("half-made",)
    assert done.resolved == ("half-resolved",)
    assert engine.get_escalation_state("half-made").status is tocsin.EscalationStatus.ACTIVE
    ended = engine.get_escalation_state("half-resolved")
    assert ended.status is tocsin.EscalationStatus.RESOLVED
    assert ended.events[-1].by == RECONCILER  # journalled
    assert tocsin.reconcile(processor).repairs == 0  # repaired once, nothing left
    clock.advance(minutes=10)
    engine.tick()
    await engine.outbox.flush()
    pages = sorted((n.incident_id, n.level) for n in sink.notifications)
    assert pages == [("half-made", 0), ("half-made", 1), ("half-resolved", 0), ("healthy", 0), ("healthy", 1)]
    store.close()


def get(url: str, headers: dict[str, str] | None = None, body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read())


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "tocsin.db"
    config = load(CONFIG, plugins())
    clock = tocsin.ManualClock(START)
    storage = sqlite_storage(str(path), plugins().registry, clock)
    app = create_app(config, plugins(), storage=storage, clock=clock)
    with ServerThread(app) as running:
        running.path = path
        yield running
    storage.close()


def test_health_says_when_another_process_holds_the_store_locked(server):
    assert get(f"{server.url}/health")[2]["status"] == "ok"
    holder = sqlite3.connect(server.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        status, _, body = get(f"{server.url}/health")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503
    assert body["status"] == "store failing"
    assert "locked" in body["store_error"]
    assert get(f"{server.url}/health")[0] == 200  # recovered


def test_a_request_while_the_store_is_locked_is_a_503_and_its_retry_raises_the_incident_once(server):
    headers = {**bearer(RESPONDER), "Idempotency-Key": "req-7f3a"}
    incident = {"title": "Disk full on db-1", "severity": "P1"}
    holder = sqlite3.connect(server.path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        status, answer_headers, body = get(f"{server.url}/v1/incidents", headers, incident)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503, body
    assert answer_headers["retry-after"] == "1"
    assert "nothing was changed" in body["error"]
    status, _, first = get(f"{server.url}/v1/incidents", headers, incident)
    assert status == 201 and first["replayed"] is False
    status, _, again = get(f"{server.url}/v1/incidents", headers, incident)
    assert status == 200 and again["replayed"] is True
    assert again["incident"]["id"] == first["incident"]["id"]
    listed = get(f"{server.url}/v1/incidents", bearer(RESPONDER))[2]
    assert len(listed["incidents"]) == 1
