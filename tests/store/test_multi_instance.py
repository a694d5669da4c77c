"""Two engines on one store: due work an instance left behind is claimed by another, fired once, and a change made
on one instance (an acknowledgement) is what the other runs after it claims. Both stores: one in-memory store
shared by two engines, two SQLite stores on one file (two processes), and two PostgreSQL stores (each its own
connection pool) on one database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.store import START, STORE_KINDS, plugins

import tocsin
from tocsin.store.postgres.store import PostgresStore
from tocsin.store.sqlite.store import SQLiteStore
from tocsin.targets.team import TeamTarget
from tocsin.targets.user import UserTarget

MINUTE = timedelta(minutes=1)
Page = tuple[int, int, str, bool]


class Cluster:
    """Engines sharing one store, one clock and one sink that records every delivered page."""

    def __init__(self, kind: str, directory: Path, dsn: str | None = None) -> None:
        self.clock = tocsin.ManualClock(START)
        self.sink = tocsin.MemorySink()
        self._kind = kind
        self._path = directory / "tocsin.db"
        self._dsn = dsn
        self._shared = tocsin.InMemoryStore()
        self.opened: list[Any] = []

    def store(self) -> tocsin.EscalationStore:
        """The store a new instance uses: the shared in-memory one, or its own connection to the file."""
        if self._kind == "memory":
            return self._shared
        store: tocsin.EscalationStore
        if self._dsn is not None:
            store = PostgresStore(self._dsn, plugins().registry, clock=self.clock)
        else:
            store = SQLiteStore(self._path, plugins().registry, clock=self.clock)
        self.opened.append(store)
        return store

    def engine(self, instance_id: str, **options) -> tocsin.EscalationEngine:
        channels = tocsin.ChannelSet(plugins().registry, every_channel=self.sink)
        engine = tocsin.EscalationEngine(
            plugins(), self.store(), clock=self.clock, channels=channels, instance_id=instance_id, **options
        )
        engine.executor().register_team("platform", ["eng1@example.com", "eng2@example.com"])
        engine.register_policy(
            tocsin.EscalationPolicy(
                id="standard",
                levels=(
                    tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
                    tocsin.EscalationLevel(delay_minutes=5, targets=(UserTarget(email="lead@example.com"),)),
                    tocsin.EscalationLevel(delay_minutes=10, targets=(TeamTarget(team_id="platform"),)),
                    tocsin.EscalationLevel(
                        delay_minutes=10, targets=(UserTarget(email="director@example.com"),), stop_on_ack=False
                    ),
                ),
            )
        )
        return engine

    def pages(self) -> list[Page]:
        """(pass, level, recipient, late) of every page delivered, in order."""
        return [(n.pass_number, n.level, n.recipient.address, n.late) for n in self.sink.notifications]


@pytest.fixture(params=STORE_KINDS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgresql" else None
    world = Cluster(request.param, tmp_path, dsn)
    yield world
    for store in world.opened:
        store.close()


def start(engine: tocsin.EscalationEngine) -> tocsin.EscalationState:
    return engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )


def level_keys(engine: tocsin.EscalationEngine, level: int) -> list[str]:
    """The outbox keys of ``level``'s notifications for inc-1's escalation."""
    return [d.notification.key for d in engine.store.deliveries("inc-1#1") if d.notification.level == level]


async def test_due_work_of_an_instance_that_died_is_claimed_and_fired_once_by_another(cluster: Cluster):
    b = cluster.engine("b")  # started before the escalation existed: its recovery did not see it
    a = cluster.engine("a")
    start(a)
    await a.outbox.flush()
    assert b.claim_due_work() == 0 and b.active_count() == 0  # level 1 is not due yet
    cluster.clock.set(START + 5 * MINUTE)  # a has died: nobody uses it from here on
    assert b.claim_due_work() == 1
    assert b.claim_due_work() == 0  # b already runs it at the stored version
    assert b.tick() == 1
    assert b.claim_due_work() == 0
    await b.outbox.flush()
    assert cluster.pages() == [(0, 0, "oncall@example.com", False), (0, 1, "lead@example.com", False)]
    assert b.get_escalation_state("inc-1").version == 2

    assert a.tick() == 0  # a comes back with version 1: its compare-and-set loses, nothing is written or sent
    await a.outbox.flush()
    assert cluster.pages() == [(0, 0, "oncall@example.com", False), (0, 1, "lead@example.com", False)]
    assert level_keys(a, 1) == ["inc-1#1/r0/p0/l1/log/lead@example.com"]
    assert a.get_escalation_state("inc-1").version == 2  # reloaded from the store

    cluster.clock.set(START + 15 * MINUTE)  # both run it now; the lease and the version let one fire level 2
    assert b.claim_due_work() == 0 and a.claim_due_work() == 0
    assert b.tick() == 1 and a.tick() == 0
    await b.outbox.flush()
    await a.outbox.flush()
    assert cluster.pages() == [
        (0, 0, "oncall@example.com", False),
        (0, 1, "lead@example.com", False),
        (0, 2, "eng1@example.com", False),
        (0, 2, "eng2@example.com", False),
    ]


async def test_each_instance_counts_its_claims_takeovers_and_lost_compare_and_sets(cluster: Cluster):
    b = cluster.engine("b")
    a = cluster.engine("a")
    start(a)
    cluster.clock.set(START + 5 * MINUTE)
    assert b.claim_due_work() == 1 and b.tick() == 1  # b takes over what a started
    assert (b.claimed, b.taken_over, b.conflicts) == (1, 1, 0)
    assert a.tick() == 0  # a's copy is a version behind
    assert (a.claimed, a.taken_over, a.conflicts) == (0, 0, 1)


async def test_an_acknowledgement_made_on_one_instance_is_respected_by_the_other_after_it_claims(cluster: Cluster):
    b = cluster.engine("b")
    a = cluster.engine("a")
    start(a)
    await a.outbox.flush()
    cluster.clock.set(START + 5 * MINUTE)
    assert b.claim_due_work() == 1 and b.tick() == 1
    await b.outbox.flush()
    cluster.clock.set(START + 6 * MINUTE)
    acked = b.acknowledge_escalation("inc-1", by="lead@example.com")
    assert acked.next_due_at == START + 25 * MINUTE  # level 2 stops on the ack; level 3 does not

    cluster.clock.set(START + 25 * MINUTE)  # a comes back long after level 2 (15m) was due
    assert a.claim_due_work() == 1  # the stored version (3) is newer than a's (1)
    state = a.get_escalation_state("inc-1")
    assert (state.status, state.acknowledged_by, state.version) == (
        tocsin.EscalationStatus.ACKNOWLEDGED,
        "lead@example.com",
        3,
    )
    assert a.tick() == 1
    await a.outbox.flush()
    assert cluster.pages() == [
        (0, 0, "oncall@example.com", False),
        (0, 1, "lead@example.com", False),
        (0, 3, "director@example.com", False),
    ]
    assert level_keys(a, 2) == []
    assert b.tick() == 0  # b's record is stale now: its compare-and-set loses
    await b.outbox.flush()
    assert len(cluster.pages()) == 3


async def test_the_monitor_claims_due_work_when_it_wakes(cluster: Cluster):
    b = cluster.engine("b", check_interval=30)
    a = cluster.engine("a")
    running = asyncio.create_task(b.run_monitor())
    try:
        await _until(lambda: b.monitor.asleep_until is not None)
        assert b.monitor.asleep_until == START + timedelta(seconds=30)  # nothing of its own: the interval bounds it
        start(a)
        await a.outbox.flush()
        cluster.clock.set(START + 5 * MINUTE)
        b.monitor.wake()  # what the check interval's timeout does in real time
        await _until(lambda: len(cluster.pages()) == 2)
        assert b.active_count() == 1
    finally:
        b.stop_monitor()
        await asyncio.wait_for(running, 5)
    assert cluster.pages() == [(0, 0, "oncall@example.com", False), (0, 1, "lead@example.com", False)]


async def test_after_a_full_claim_the_monitor_claims_again_at_once_until_the_due_work_is_taken(cluster: Cluster):
    a = cluster.engine("a")
    for number in range(5):
        a.start_escalation(
            tocsin.Incident(id=f"inc-{number}", title="Disk full", severity="P1", created_at=START), "standard"
        )
    await a.outbox.flush()
    b = cluster.engine("b", check_interval=30, claim_limit=2, recover_open=False)
    assert b.active_count() == 0  # a fleet's instance leaves open escalations to claims
    cluster.clock.set(START + 5 * MINUTE)  # level 1 of all five is due; a has died
    running = asyncio.create_task(b.run_monitor())
    try:
        await _until(lambda: sum(1 for page in cluster.pages() if page[1] == 1) == 5)  # not after 3 check intervals
        assert (b.claimed, b.taken_over) == (5, 5)
        await _until(lambda: b.monitor.asleep_until is not None)
        assert not b.more_due_work
    finally:
        b.stop_monitor()
        await asyncio.wait_for(running, 5)


def test_an_engine_has_a_random_instance_id_unless_given_one(cluster: Cluster):
    first, second = cluster.engine(None), cluster.engine(None)
    assert len(first.instance_id) == 32 and first.instance_id != second.instance_id
    assert cluster.engine("node-1", lease_seconds=5).instance_id == "node-1"


async def _until(condition: Callable[[], bool], rounds: int = 500) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")
