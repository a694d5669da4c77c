"""Instances on one PostgreSQL database tell each other when due work becomes claimable (LISTEN/NOTIFY): a commit
that leaves an escalation open announces its next due time, a claim announces the end of its lease, a rolled-back
or ended escalation announces nothing, a monitor that hears an announcement plans to wake at that time rather than
at its next poll, and a listener whose connection the database dropped reconnects and asks for a claim at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import pytest
from support.store import START, plugins

import tocsin
from tocsin.instants import to_micros
from tocsin.store.postgres.listen import DueListener
from tocsin.store.postgres.store import PostgresStore
from tocsin.targets.user import UserTarget

MINUTE = timedelta(minutes=1)


class Heard:
    """A listener on the test database, and what it heard."""

    def __init__(self, dsn: str) -> None:
        self.times: list[int] = []
        self.connections = 0
        self.listener = DueListener(dsn, self.times.append, on_connected=self._connected, retry_seconds=0.2)

    def _connected(self) -> None:
        self.connections += 1


@pytest.fixture
async def heard(postgres_dsn: str) -> AsyncIterator[Heard]:
    ears = Heard(postgres_dsn)
    task = asyncio.create_task(ears.listener.run())
    await _until(lambda: ears.listener.connected)
    yield ears
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
def clock() -> tocsin.ManualClock:
    return tocsin.ManualClock(START)


@pytest.fixture
def open_store(postgres_dsn: str, clock: tocsin.ManualClock) -> Iterator[Callable[[], PostgresStore]]:
    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        store = PostgresStore(postgres_dsn, plugins().registry, clock=clock)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def engine(store: PostgresStore, clock: tocsin.ManualClock, name: str, **options) -> tocsin.EscalationEngine:
    sink = tocsin.MemorySink()
    channels = tocsin.ChannelSet(plugins().registry, every_channel=sink)
    built = tocsin.EscalationEngine(plugins(), store, clock=clock, channels=channels, instance_id=name, **options)
    built.register_policy(
        tocsin.EscalationPolicy(
            id="standard",
            levels=(
                tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
                tocsin.EscalationLevel(delay_minutes=5, targets=(UserTarget(email="lead@example.com"),)),
            ),
        )
    )
    return built


def incident(number: int = 1) -> tocsin.Incident:
    return tocsin.Incident(id=f"inc-{number}", title="Disk full", severity="P1", created_at=START)


async def test_a_commit_announces_the_next_due_time_and_a_claim_the_end_of_its_lease(heard, open_store, clock):
    a = engine(open_store(), clock, "a")
    a.start_escalation(incident(), "standard")  # level 0 fires now; level 1 is due in 5 minutes
    await _until(lambda: heard.times)
    assert heard.times == [to_micros(START + 5 * MINUTE)]

    b = engine(open_store(), clock, "b", lease_seconds=30, recover_open=False)
    clock.set(START + 5 * MINUTE)
    assert b.claim_due_work() == 1  # leased to b for 30 s: claimable by others again only then
    await _until(lambda: len(heard.times) == 2)
    assert heard.times[1] == to_micros(START + 5 * MINUTE + timedelta(seconds=30))


async def test_a_listener_started_later_reads_what_was_announced_before_it_connected(postgres_dsn, open_store, clock):
    a = engine(open_store(), clock, "a")
    a.start_escalation(incident(1), "standard")
    clock.advance(minutes=1)
    a.start_escalation(incident(2), "standard")
    a.start_escalation(incident(3), "standard")
    a.resolve_escalation("inc-3", by="oncall@example.com")
    late = Heard(postgres_dsn)  # an instance (re)started after those escalations were created
    task = asyncio.create_task(late.listener.run())
    try:
        await _until(lambda: late.connections == 1)
        assert late.times == [to_micros(START + 5 * MINUTE), to_micros(START + 6 * MINUTE)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_rolled_back_or_ended_escalation_announces_nothing(heard, open_store, clock):
    store = open_store()
    a = engine(store, clock, "a")
    with pytest.raises(RuntimeError), store.atomic():
        a.start_escalation(incident(1), "standard")
        raise RuntimeError("the request failed after the escalation was written")
    a.start_escalation(incident(2), "standard")
    a.resolve_escalation("inc-2", by="oncall@example.com")
    a.start_escalation(incident(3), "standard")  # a marker: announcements arrive in commit order
    await _until(lambda: len(heard.times) == 2)
    await asyncio.sleep(0.2)
    assert heard.times == [to_micros(START + 5 * MINUTE)] * 2  # inc-2's start and inc-3's; inc-1 and the resolve: none


async def test_a_monitor_that_hears_another_instances_due_time_plans_to_wake_then_not_at_its_poll(
    postgres_dsn, open_store, clock
):
    b = engine(open_store(), clock, "b", check_interval=600, recover_open=False)
    listener = DueListener(postgres_dsn, b.monitor.expect, on_connected=b.monitor.wake)
    hearing = asyncio.create_task(listener.run())
    running = asyncio.create_task(b.run_monitor())
    try:
        await _until(lambda: listener.connected and b.monitor.asleep_until is not None)
        assert b.monitor.asleep_until == START + timedelta(seconds=600)  # nothing of its own: the poll bounds it

        a = engine(open_store(), clock, "a")
        a.start_escalation(incident(), "standard")  # a starts it, then dies
        await _until(lambda: b.monitor.asleep_until == START + 5 * MINUTE)
        assert b.active_count() == 0  # b does not hold it: it knows when to claim it

        clock.set(START + 5 * MINUTE)
        b.monitor.wake()  # what the sleep's timeout does in real time at that instant
        await _until(lambda: b.taken_over == 1)
        assert b.claimed == 1
        await _until(lambda: b.monitor.asleep_until is not None and b.monitor.asleep_until > START + 5 * MINUTE)
    finally:
        b.stop_monitor()
        await asyncio.wait_for(running, 5)
        hearing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hearing
    levels = [(d.notification.level, d.notification.recipient.address) for d in b.store.deliveries("inc-1#1")]
    assert sorted(levels) == [(0, "oncall@example.com"), (1, "lead@example.com")]


async def test_after_the_database_restarts_the_listener_reconnects_and_asks_for_a_claim(
    heard, postgres_server, open_store, clock
):
    assert heard.connections == 1
    postgres_server.restart()
    await _until(lambda: heard.connections == 2 and heard.listener.connected, rounds=2000)
    a = engine(open_store(), clock, "a")
    a.start_escalation(incident(), "standard")
    await _until(lambda: heard.times)
    assert heard.times == [to_micros(START + 5 * MINUTE)]


async def _until(condition: Callable[[], object], rounds: int = 500) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")
