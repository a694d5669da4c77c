"""One unit of work per operation: raising an incident, resolving it, acknowledging, firing a level are each ONE
store transaction. A store fault at the commit leaves nothing half-written and no cache that disagrees with the
store; any instance on the store can act on any escalation; the store, not a lookup, enforces dedup; a retried
request with the same Idempotency-Key replays what the first made. Every store: in memory, SQLite on disk and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.store import START, STORE_KINDS, plugins

import tocsin
from tocsin.store.errors import StoreError
from tocsin.store.postgres.store import PostgresStore
from tocsin.store.sqlite.store import SQLiteStore
from tocsin.targets.user import UserTarget

MINUTE = timedelta(minutes=1)
POLICY = tocsin.EscalationPolicy(
    id="standard",
    levels=(
        tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
        tocsin.EscalationLevel(delay_minutes=5, targets=(UserTarget(email="lead@example.com"),)),
    ),
)


class Site:
    """Instances (engine + processor) on one store: shared in memory, or each its own connection to one file."""

    def __init__(self, kind: str, directory: Path, dsn: str | None = None) -> None:
        self.kind = kind
        self.dsn = dsn
        self.clock = tocsin.ManualClock(START)
        self.sink = tocsin.MemorySink()
        self.path = directory / "tocsin.db"
        self.shared = tocsin.InMemoryStore()
        self.shared_incidents = tocsin.InMemoryIncidentStore(self.clock, unit=self.shared)
        self.opened: list[Any] = []

    def instance(self, name: str) -> tuple[tocsin.EscalationEngine, tocsin.IncidentProcessor]:
        store: Any
        if self.kind == "memory":
            store, incidents = self.shared, self.shared_incidents
        else:
            if self.dsn is not None:
                store = PostgresStore(self.dsn, plugins().registry, clock=self.clock)
            else:
                store = SQLiteStore(self.path, plugins().registry, clock=self.clock)
            self.opened.append(store)
            incidents = store.incidents
        channels = tocsin.ChannelSet(plugins().registry, every_channel=self.sink)
        engine = tocsin.EscalationEngine(plugins(), store, clock=self.clock, channels=channels, instance_id=name)
        engine.register_policy(POLICY)
        return engine, tocsin.IncidentProcessor(engine, incidents=incidents)

    async def pages(self, *engines: tocsin.EscalationEngine) -> list[tuple[str, int, str]]:
        for engine in engines:
            await engine.outbox.flush()
        return [(n.incident_id, n.level, n.recipient.address) for n in self.sink.notifications]


@pytest.fixture(params=STORE_KINDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgresql" else None
    built = Site(request.param, tmp_path, dsn)
    yield built
    for store in built.opened:
        store.close()


def incident(number: int = 1, **fields) -> tocsin.Incident:
    return tocsin.Incident(id=f"inc-{number}", title="Disk full", severity="P1", created_at=START, **fields)


def fail_next_commit(store: tocsin.EscalationStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next outermost commit fails as a full disk would: nothing of the transaction is kept."""
    unit = getattr(store, "database", store)  # a database store's unit of work is its database
    real = unit._commit

    def failing() -> None:
        unit._rollback()
        monkeypatch.setattr(unit, "_commit", real)
        raise StoreError("store test: commit failed: database or disk is full")

    monkeypatch.setattr(unit, "_commit", failing)


async def test_an_incident_whose_commit_fails_is_not_saved_and_pages_once_when_retried(site, monkeypatch):
    engine, processor = site.instance("a")
    fail_next_commit(engine.store, monkeypatch)
    with pytest.raises(StoreError, match="disk is full"):
        processor.process(incident())
    assert processor.get_incident("inc-1") is None  # not an incident that will never page
    assert engine.get_escalation_state("inc-1") is None
    assert engine.active_count() == 0
    assert engine.store.deliveries("inc-1#1") == []
    result = processor.process(incident())  # the client's retry
    assert not result.duplicate
    assert result.escalation.status is tocsin.EscalationStatus.ACTIVE
    assert await site.pages(engine) == [("inc-1", 0, "oncall@example.com")]


async def test_a_resolve_whose_commit_fails_leaves_the_incident_open_and_its_escalation_as_stored(site, monkeypatch):
    engine, processor = site.instance("a")
    processor.process(incident())
    fail_next_commit(engine.store, monkeypatch)
    with pytest.raises(StoreError):
        processor.resolve_incident("inc-1", by="oncall@example.com")
    assert processor.get_incident("inc-1").state is tocsin.IncidentState.DETECTED  # not half-resolved
    assert engine.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACTIVE
    processor.resolve_incident("inc-1", by="oncall@example.com")
    assert engine.get_escalation_state("inc-1").status is tocsin.EscalationStatus.RESOLVED
    site.clock.advance(10 * MINUTE)
    engine.tick()
    assert await site.pages(engine) == [("inc-1", 0, "oncall@example.com")]  # nothing for a resolved incident


async def test_an_acknowledgement_whose_commit_fails_changes_nothing_the_engine_answers_with(site, monkeypatch):
    engine, processor = site.instance("a")
    processor.process(incident())
    fail_next_commit(engine.store, monkeypatch)
    with pytest.raises(StoreError):
        engine.acknowledge_escalation("inc-1", by="oncall@example.com")
    state = engine.get_escalation_state("inc-1")
    assert state.status is tocsin.EscalationStatus.ACTIVE  # the cache agrees with the store
    assert state.version == engine.store.load("inc-1").version
    site.clock.advance(5 * MINUTE)
    assert engine.tick() == 1  # it was not acknowledged, so the next level pages
    assert await site.pages(engine) == [("inc-1", 0, "oncall@example.com"), ("inc-1", 1, "lead@example.com")]


async def test_a_level_whose_commit_fails_is_retried_within_seconds_and_pages_once(site, monkeypatch):
    engine, processor = site.instance("a")
    processor.process(incident())
    site.clock.advance(5 * MINUTE)
    fail_next_commit(engine.store, monkeypatch)
    assert engine.tick() == 0
    assert engine.next_due_at() == site.clock.now() + timedelta(seconds=1)  # not after check_interval
    site.clock.advance(timedelta(seconds=1))
    assert engine.tick() == 1
    assert await site.pages(engine) == [("inc-1", 0, "oncall@example.com"), ("inc-1", 1, "lead@example.com")]


@pytest.mark.parametrize(
    ("act", "status"),
    [
        (lambda e: e.acknowledge_escalation("inc-1", by="oncall@example.com"), tocsin.EscalationStatus.ACKNOWLEDGED),
        (lambda e: e.resolve_escalation("inc-1", by="oncall@example.com"), tocsin.EscalationStatus.RESOLVED),
        (lambda e: e.cancel_escalation("inc-1", by="oncall@example.com"), tocsin.EscalationStatus.CANCELLED),
    ],
    ids=["acknowledge", "resolve", "cancel"],
)
async def test_the_instance_that_did_not_start_an_escalation_can_end_it(site, act, status):
    a, processor = site.instance("a")
    processor.process(incident())
    b, _ = site.instance("b")
    b.tick()  # b runs too
    assert act(b).status is status
    site.clock.advance(30 * MINUTE)
    a.tick()
    b.tick()
    assert a.get_escalation_state("inc-1").status is status  # a learnt it from the store
    assert await site.pages(a, b) == [("inc-1", 0, "oncall@example.com")]  # no later level paged


async def test_an_escalation_started_on_one_instance_can_be_escalated_on_another_that_never_saw_it(site):
    b, _ = site.instance("b")  # started before the escalation existed
    a, processor = site.instance("a")
    processor.process(incident())
    state = b.escalate_now("inc-1", by="oncall@example.com")
    assert state.current_level == 1
    site.clock.advance(5 * MINUTE)
    assert a.tick() == 0  # a's copy was older; the store's version decides and level 1 does not page twice
    assert await site.pages(a, b) == [("inc-1", 0, "oncall@example.com"), ("inc-1", 1, "lead@example.com")]


async def test_a_resolve_on_another_instance_resolves_both_the_incident_and_its_escalation(site):
    a, first = site.instance("a")
    first.process(incident())
    b, second = site.instance("b")
    second.resolve_incident("inc-1", by="oncall@example.com")
    assert first.get_incident("inc-1").state is tocsin.IncidentState.RESOLVED
    assert a.get_escalation_state("inc-1").status is tocsin.EscalationStatus.RESOLVED
    site.clock.advance(10 * MINUTE)
    a.tick()
    assert await site.pages(a, b) == [("inc-1", 0, "oncall@example.com")]


def test_the_same_dedup_key_raised_on_two_instances_at_once_opens_one_incident(site):
    instances = [site.instance(name) for name in ("a", "b")]
    barrier = threading.Barrier(2)
    results: dict[int, tocsin.ProcessResult] = {}

    def raise_incident(index: int) -> None:
        _, processor = instances[index]
        barrier.wait()
        results[index] = processor.process(incident(index + 1, dedup_key="disk-db-1"))

    threads = [threading.Thread(target=raise_incident, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(result.duplicate for result in results.values()) == [False, True]
    opened = [result.incident.id for result in results.values() if not result.duplicate]
    folded = [result.incident.id for result in results.values() if result.duplicate]
    assert folded == opened  # the repeat folded into the one that opened
    assert instances[0][1].incidents.duplicates(opened[0]) == 1


async def test_a_retry_with_the_same_idempotency_key_replays_what_the_first_request_made(site):
    engine, processor = site.instance("a")
    first = processor.process(tocsin.Incident(title="Disk full", severity="P1"), idempotency_key="req-1")
    again = processor.process(tocsin.Incident(title="Disk full", severity="P1"), idempotency_key="req-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.incident.id == first.incident.id
    assert again.escalation.escalation_id == first.escalation.escalation_id
    other = processor.process(tocsin.Incident(title="Disk full", severity="P1"), idempotency_key="req-2")
    assert other.incident.id != first.incident.id
    assert len(await site.pages(engine)) == 2


def test_a_block_inside_another_that_raises_undoes_only_itself(tmp_path):
    store = SQLiteStore(tmp_path / "tocsin.db", plugins().registry)
    seen: list[str] = []
    with store.atomic():
        store.incidents.save(incident(1))
        store.after_commit(lambda: seen.append("outer committed"))
        with pytest.raises(RuntimeError), store.atomic():
            store.incidents.save(incident(2))
            store.after_commit(lambda: seen.append("inner committed"))
            store.after_rollback(lambda: seen.append("inner rolled back"))
            raise RuntimeError("undo this block")
        assert seen == ["inner rolled back"]
    assert seen == ["inner rolled back", "outer committed"]
    assert store.incidents.get("inc-1") is not None
    assert store.incidents.get("inc-2") is None
    store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_blocks_opened_one_inside_another_undo_exactly_their_own_writes(tmp_path, kind):
    """Deep nesting with and without writes between the blocks: each block that raises undoes its own writes
    and those of the blocks inside it, never the writes its enclosing block made before or after it."""
    if kind == "sqlite":
        store: object = SQLiteStore(tmp_path / "tocsin.db", plugins().registry)
        incidents = store.incidents
    else:
        store = tocsin.InMemoryStore()
        incidents = tocsin.InMemoryIncidentStore(tocsin.ManualClock(START), unit=store)
    with store.atomic():
        with store.atomic():  # nothing written yet in this block when the next opens
            with pytest.raises(RuntimeError), store.atomic(), store.atomic():
                incidents.save(incident(1))
                raise RuntimeError("undo the two innermost blocks")
            incidents.save(incident(2))  # the block carries on after its inner blocks were undone
            with store.atomic(), store.atomic():  # an inner block that writes and keeps its writes
                incidents.save(incident(3))
            with pytest.raises(RuntimeError), store.atomic():
                with store.atomic():
                    incidents.save(incident(4))
                incidents.save(incident(5))
                raise RuntimeError("undo 4 and 5 only")
        with pytest.raises(RuntimeError), store.atomic():
            with store.atomic():
                incidents.save(incident(6))
            raise RuntimeError("undo 6: its block wrote nothing itself")
        incidents.save(incident(7))
    kept = {n for n in range(1, 8) if incidents.get(f"inc-{n}") is not None}
    assert kept == {2, 3, 7}
    if kind == "sqlite":
        store.close()
        with SQLiteStore(tmp_path / "tocsin.db", plugins().registry) as reopened:
            assert {n for n in range(1, 8) if reopened.incidents.get(f"inc-{n}") is not None} == {2, 3, 7}
