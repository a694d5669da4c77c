"""Restarts in process: close the SQLite store, reopen the same file, build a new engine, tick. Missed levels fire
once, late, in order; nothing already delivered goes out again; work in flight or waiting to be retried is picked
up; two engines on one file never both apply a transition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.store import START, plugins

import tocsin
from tocsin.store.sqlite.store import SQLiteStore
from tocsin.targets.team import TeamTarget
from tocsin.targets.user import UserTarget

MINUTE = timedelta(minutes=1)


class Node:
    """One "process": a store on the file, an engine on it, and a sink that records what was delivered."""

    def __init__(
        self, path: Path, clock: tocsin.ManualClock, sink: tocsin.MemorySink, store: type[SQLiteStore] = SQLiteStore
    ) -> None:
        self.store = store(path, plugins().registry, clock=clock)
        channels = tocsin.ChannelSet(plugins().registry, every_channel=sink)
        self.engine = tocsin.EscalationEngine(plugins(), self.store, clock=clock, channels=channels)
        self.engine.executor().register_team("platform", ["eng1@example.com", "eng2@example.com"])
        self.engine.register_policy(
            tocsin.EscalationPolicy(
                id="standard",
                levels=(
                    tocsin.EscalationLevel(delay_minutes=0, targets=(UserTarget(email="oncall@example.com"),)),
                    tocsin.EscalationLevel(delay_minutes=5, targets=(UserTarget(email="lead@example.com"),)),
                    tocsin.EscalationLevel(delay_minutes=10, targets=(TeamTarget(team_id="platform"),)),
                ),
                repeat=tocsin.RepeatConfig(max_repeats=3, interval_minutes=20),
            )
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, tocsin.ManualClock, tocsin.MemorySink, list[Node]]]:
    nodes: list[Node] = []
    yield tmp_path / "tocsin.db", tocsin.ManualClock(START), tocsin.MemorySink(), nodes
    for node in nodes:
        node.store.close()


def boot(world, store: type[SQLiteStore] = SQLiteStore) -> Node:
    path, clock, sink, nodes = world
    node = Node(path, clock, sink, store)
    nodes.append(node)
    return node


def sent(sink: tocsin.MemorySink) -> list[tuple[int, int, str, bool]]:
    """(pass, level, recipient, late) of every page the sink got, in order."""
    return [(n.pass_number, n.level, n.recipient.address, n.late) for n in sink.notifications]


async def test_levels_missed_while_down_fire_once_late_in_order_and_nothing_is_sent_twice(world):
    _, clock, sink, _ = world
    first = boot(world)
    first.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    await first.engine.outbox.flush()  # level 0 delivered
    first.store.close()  # the process stops
    clock.set(START + 22 * MINUTE)  # down through levels 1 (5m) and 2 (15m)
    second = boot(world)
    assert second.engine.active_count() == 1
    await second.engine.outbox.flush()
    assert second.engine.tick() == 2
    await second.engine.outbox.flush()
    assert sent(sink) == [
        (0, 0, "oncall@example.com", False),
        (0, 1, "lead@example.com", True),
        (0, 2, "eng1@example.com", True),
        (0, 2, "eng2@example.com", True),
    ]
    state = second.engine.get_escalation_state("inc-1")
    assert state.next_due_at == START + 35 * MINUTE  # the schedule keeps its anchor
    assert [d.status.value for d in state.deliveries] == ["sent"] * 4
    second.store.close()
    third = boot(world)
    await third.engine.outbox.deliver_due()
    assert third.engine.tick() == 0 and len(sink.notifications) == 4  # delivered keys are never sent again


async def test_a_page_written_but_never_delivered_is_delivered_after_the_restart(world):
    _, _clock, sink, _ = world
    first = boot(world)
    first.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    first.store.close()  # crashed right after the commit: level 0 is in the outbox, pending
    second = boot(world)
    await second.engine.outbox.flush()  # recovered when the engine started
    assert sent(sink) == [(0, 0, "oncall@example.com", False)]


async def test_a_page_in_flight_when_the_process_died_is_sent_again_once_its_lease_ends(world):
    _path, clock, sink, _ = world
    first = boot(world)
    first.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    key = "inc-1#1/r0/p0/l0/log/oncall@example.com"
    assert first.store.claim(key, now=clock.now(), lease_seconds=60) == 1  # a sender took it ... and the process died
    first.store.close()
    second = boot(world)
    await second.engine.outbox.flush()
    assert sink.notifications == []  # the lease still runs: another instance may be sending it
    clock.advance(seconds=60)
    await second.engine.outbox.deliver_due()
    assert sent(sink) == [(0, 0, "oncall@example.com", False)]
    delivery = second.store.delivery(key)
    assert (delivery.status.value, delivery.attempts) == ("sent", 2)


async def test_a_retry_scheduled_before_the_restart_happens_at_its_time_after_it(world):
    _, clock, sink, _ = world
    first = boot(world)
    first.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    key = "inc-1#1/r0/p0/l0/log/oncall@example.com"
    first.store.claim(key, now=clock.now(), lease_seconds=60)
    first.store.finish(
        tocsin.DeliveryResult(key=key, ok=False, detail="HTTP 503", attempts=1, at=clock.now()),
        retry_at=START + 2 * MINUTE,
    )
    first.store.close()
    second = boot(world)
    await second.engine.outbox.flush()
    assert sink.notifications == []
    clock.set(START + 2 * MINUTE)
    await second.engine.outbox.deliver_due()
    assert [n.key for n in sink.notifications] == [key]


async def test_an_acknowledgement_after_a_level_fired_on_another_instance_acts_on_the_stored_state(world):
    _, clock, sink, _ = world
    a = boot(world)
    a.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    b = boot(world)  # a second instance on the same file: it loads the open escalation
    clock.set(START + 5 * MINUTE)  # level 1 is due on both
    assert b.engine.tick() == 1  # b fires level 1 first
    # a's copy is one version behind: the acknowledgement loads the stored version and applies to it.
    state = a.engine.acknowledge_escalation("inc-1", by="oncall@example.com")
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    await a.engine.outbox.flush()
    await b.engine.outbox.flush()
    levels = [(n.level, n.recipient.address) for n in sink.notifications]
    assert levels == [(0, "oncall@example.com"), (1, "lead@example.com")]  # level 1 paged exactly once
    assert [event.kind for event in state.events] == ["started", "level_fired", "level_fired", "acknowledged"]


async def test_an_acknowledgement_that_lands_first_stops_the_level_the_other_instance_was_about_to_fire(world):
    _, clock, sink, _ = world
    a = boot(world)
    a.engine.start_escalation(
        tocsin.Incident(id="inc-1", title="Disk full", severity="P1", created_at=START), "standard"
    )
    b = boot(world)
    clock.set(START + 5 * MINUTE - timedelta(seconds=1))
    a.engine.acknowledge_escalation("inc-1", by="oncall@example.com")
    clock.set(START + 5 * MINUTE)
    assert b.engine.tick() == 0  # its commit lost; it reloaded the acknowledged state
    assert b.engine.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACKNOWLEDGED
    await a.engine.outbox.flush()
    await b.engine.outbox.flush()
    assert [n.level for n in sink.notifications] == [0]


class CountingStore(SQLiteStore):
    """The SQLite store, counting the escalation rows it reads."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.reads = 0

    def load(self, incident_id: str) -> tocsin.EscalationRow | None:
        self.reads += 1
        return super().load(incident_id)

    def load_open(self) -> list[tocsin.EscalationRow]:
        found = super().load_open()
        self.reads += len(found)
        return found


def start(node: Node, *incident_ids: str) -> None:
    for incident_id in incident_ids:
        incident = tocsin.Incident(id=incident_id, title="Disk full", severity="P1", created_at=START)
        node.engine.start_escalation(incident, "standard")


async def test_a_restart_reads_no_escalation_until_it_is_due_or_acted_on_and_then_it_carries_on(world):
    _, clock, sink, _ = world
    first = boot(world)
    start(first, "inc-1", "inc-2", "inc-3")
    await first.engine.outbox.flush()
    first.store.close()
    second = boot(world, CountingStore)
    store = second.store
    assert isinstance(store, CountingStore)
    assert second.engine.active_count() == 3 and store.reads == 0
    assert second.engine.next_due_at() == START + 5 * MINUTE
    clock.set(START + 4 * MINUTE)
    second.engine.acknowledge_escalation("inc-2", by="oncall@example.com")
    assert store.reads == 1
    clock.set(START + 5 * MINUTE)
    assert second.engine.tick() == 2  # level 1 of inc-1 and inc-3; inc-2 was acknowledged
    await second.engine.outbox.flush()
    assert sorted((n.incident_id, n.level) for n in sink.notifications if n.level == 1) == [("inc-1", 1), ("inc-3", 1)]
    assert {state.incident_id: state.status.value for state in second.engine.open_escalations()} == {
        "inc-1": "active",
        "inc-2": "acknowledged",
        "inc-3": "active",
    }


async def test_an_escalation_ended_elsewhere_while_held_unread_is_dropped_when_due_and_pages_nobody(world):
    _, clock, sink, _ = world
    a = boot(world)
    start(a, "inc-1")
    await a.engine.outbox.flush()
    b = boot(world)  # holds inc-1 by its index alone
    a.engine.resolve_escalation("inc-1", by="oncall@example.com")
    clock.set(START + 5 * MINUTE)
    assert b.engine.tick() == 0
    assert b.engine.active_count() == 0 and b.engine.next_due_at() is None
    await b.engine.outbox.flush()
    assert [n.level for n in sink.notifications] == [0]


async def test_listing_escalations_after_a_restart_reads_them_in_one_go(world):
    _, _clock, _sink, _ = world
    first = boot(world)
    start(first, "inc-1", "inc-2")
    first.engine.resolve_escalation("inc-1", by="oncall@example.com")
    first.store.close()
    second = boot(world, CountingStore)
    assert second.engine.active_count() == 1
    states = second.engine.open_escalations()
    assert [(state.incident_id, state.current_level) for state in states] == [("inc-2", 0)]
    assert isinstance(second.store, CountingStore) and second.store.reads == 1


async def test_claiming_an_escalation_held_unread_at_its_stored_version_takes_nothing_over_and_fires_it_once(world):
    _, clock, sink, _ = world
    first = boot(world)
    start(first, "inc-1")
    await first.engine.outbox.flush()
    first.store.close()
    second = boot(world)
    clock.set(START + 5 * MINUTE)
    assert second.engine.claim_due_work() == 0
    assert second.engine.tick() == 1
    await second.engine.outbox.flush()
    assert [n.level for n in sink.notifications] == [0, 1]
