"""Benchmark the SQLite store against the in-memory store, in the same process: what durability costs.

Run ``python bench/store.py``. Each row runs the same engine code on the in-memory store (the baseline) and on
a SQLite file (in a temporary directory), with ``synchronous`` normal (a commit survives a crash of the
process) and full (it also survives power loss; the cost is one fsync per commit, so it depends on the disk):

- *start*: ``start_escalation`` for 2,000 incidents (each is one transaction: row, notifications, journal);
- *fire*: one ``tick()`` firing level 1 of all of them (one transaction each);
- *deliver*: the outbox delivering their 4,000 notifications to an in-memory sink (claim + answer: two
  transactions each);
- *restart*: a new engine on the file picking up 2,000 open escalations (``load_open`` and the due-queue).

The rows "bare sqlite3 transaction" time the file system itself (one 1 KB row per ``BEGIN IMMEDIATE`` ...
``COMMIT``) with the same settings, so the store's own overhead can be told from the disk's.

Targets: with ``synchronous: normal``, >= 500 transitions/s for start and fire, >= 500 deliveries/s, and a
restart with 2,000 open escalations under one second.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _table import print_table  # bench/ is on the path when run as a script

import tocsin
from tocsin.logs import configure_logging
from tocsin.store.sqlite.store import SQLiteStore

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
COUNT = 2_000
Row = tuple[str, str, str, str, str, bool]


def policy(plugins: tocsin.Plugins) -> tocsin.EscalationPolicy:
    user = plugins.registry.targets.get("user").cls
    return tocsin.EscalationPolicy(
        id="bench",
        levels=(
            tocsin.EscalationLevel(delay_minutes=0, targets=(user(email="oncall@example.com"),)),
            tocsin.EscalationLevel(delay_minutes=5, targets=(user(email="lead@example.com"),)),
        ),
        repeat=tocsin.RepeatConfig(max_repeats=3, interval_minutes=20),
    )


def engine_on(
    plugins: tocsin.Plugins, store: tocsin.EscalationStore, clock: tocsin.ManualClock
) -> tocsin.EscalationEngine:
    channels = tocsin.ChannelSet(plugins.registry, every_channel=tocsin.MemorySink())
    engine = tocsin.EscalationEngine(plugins, store, clock=clock, channels=channels, observe=False)
    engine.register_policy(policy(plugins))
    return engine


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def run(
    plugins: tocsin.Plugins, make_store: Callable[[tocsin.ManualClock], tocsin.EscalationStore]
) -> dict[str, float]:
    """Seconds for each phase on one store."""
    clock = tocsin.ManualClock(START)
    store = make_store(clock)
    engine = engine_on(plugins, store, clock)
    incidents = [
        tocsin.Incident(id=f"inc-{i}", title="Disk full", severity="P1", created_at=START) for i in range(COUNT)
    ]
    seconds = {"start": timed(lambda: [engine.start_escalation(incident, "bench") for incident in incidents])}
    clock.set(START + timedelta(minutes=5))
    seconds["fire"] = timed(engine.tick)
    seconds["deliver"] = timed(lambda: asyncio.run(engine.outbox.flush()))
    assert all(d.status is tocsin.DeliveryStatus.SENT for d in engine.store.deliveries("inc-0#1"))
    reopened = store
    if isinstance(store, SQLiteStore):
        store.close()
        reopened = SQLiteStore(store.path, plugins.registry, clock=clock)
    restarted: list[tocsin.EscalationEngine] = []
    seconds["restart"] = timed(lambda: restarted.append(engine_on(plugins, reopened, clock)))
    assert restarted[0].active_count() == COUNT
    if isinstance(reopened, SQLiteStore):
        reopened.close()
    return seconds


def bare_transactions(path: Path, synchronous: str) -> float:
    """Seconds per bare one-row transaction on ``path`` (WAL, ``synchronous``)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    began = time.perf_counter()
    for number in range(COUNT):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (?, ?)", (number, "x" * 1024))
        connection.execute("COMMIT")
    seconds = (time.perf_counter() - began) / COUNT
    connection.close()
    return seconds


def main() -> int:
    configure_logging(json=True, level="WARNING")
    plugins = tocsin.load_plugins(autoload=False)
    with tempfile.TemporaryDirectory() as directory:
        files = iter(Path(directory) / f"bench-{n}.db" for n in range(100))
        base = run(plugins, lambda clock: tocsin.InMemoryStore())
        normal = run(
            plugins, lambda clock: SQLiteStore(next(files), plugins.registry, clock=clock, synchronous="normal")
        )
        full = run(plugins, lambda clock: SQLiteStore(next(files), plugins.registry, clock=clock, synchronous="full"))
        bare = {name: bare_transactions(next(files), name) for name in ("normal", "full")}
    rows: list[Row] = [
        (f"bare sqlite3 transaction ({name})", f"{seconds * 1e6:,.0f} us", "", "", "", True)
        for name, seconds in bare.items()
    ]
    work = {"start": COUNT, "fire": COUNT, "deliver": 2 * COUNT}
    unit = {"start": "escalations/s", "fire": "levels/s", "deliver": "deliveries/s"}
    for phase in ("start", "fire", "deliver"):
        for name, seconds in (("normal", normal), ("full", full)):
            rate = work[phase] / seconds[phase]
            ratio = seconds[phase] / base[phase]
            target = ">= 500/s" if name == "normal" else ""
            rows.append(
                (
                    f"{phase} x{work[phase]:,} (sqlite, {name})",
                    f"{rate:,.0f} {unit[phase]}",
                    f"{work[phase] / base[phase]:,.0f}/s in memory",
                    f"{ratio:.1f}x slower",
                    target,
                    rate >= 500 if target else True,
                )
            )
    for name, seconds in (("normal", normal), ("full", full)):
        rows.append(
            (
                f"restart with {COUNT:,} open (sqlite, {name})",
                f"{seconds['restart'] * 1e3:,.0f} ms",
                f"{base['restart'] * 1e3:,.0f} ms in memory",
                f"{seconds['restart'] / base['restart']:.1f}x slower",
                "< 1,000 ms" if name == "normal" else "",
                seconds["restart"] < 1.0 if name == "normal" else True,
            )
        )
    return print_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
