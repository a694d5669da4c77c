"""Benchmark the escalation engine: idle ticks as escalations pile up, firing throughput, memory per escalation.

Run ``python bench/escalation.py``. Everything is measured in this process, next to its baseline:

- *idle tick*: ``engine.tick()`` when nothing is due, with 10, 1,000 and 100,000 active escalations; the
  baseline is the 10-escalation engine, measured in interleaved rounds (best of each). Target: 100,000 costs
  at most 2x of 10 (the due-queue is looked at, the escalations are not);
- *claim*: ``engine.claim_due_work()`` (what the monitor asks the store on every wake: escalations due and not
  held by another instance) when nothing is due, with 10 and 100,000 open escalations, on the in-memory store
  and on a SQLite file. Target: 100,000 costs at most 2x of 10 (found by an index, never a scan);
- *firing*: 20,000 escalations all due at once; one ``tick()`` fires every level (expand targets, write
  notifications and journal, reschedule), then the outbox delivers to an in-memory sink standing in for the
  log channel. The built-in audit observer runs too (its log lines are filtered out). Target: >= 10,000
  levels/s for firing plus delivery (best of three runs);
- *memory*: bytes allocated per active escalation (tracemalloc; the incidents themselves are created first
  and not counted), before and after level 0 fired. Baseline: one due-queue heap entry. Target: <= 2 KB.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _table import print_table  # bench/ is on the path when run as a script

import tocsin
from tocsin.logs import configure_logging

START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
SIZES = (10, 1_000, 100_000)
FIRING = 20_000
MEMORY = 20_000
ROUNDS = 7
TICKS = 20_000


def make_engine(
    plugins: tocsin.Plugins, sink: tocsin.MemorySink | None = None, store: object | None = None
) -> tocsin.EscalationEngine:
    """An engine on a manual clock whose log channel is ``sink`` (an in-memory sender), on ``store`` (default:
    in memory)."""
    channels = tocsin.ChannelSet(plugins.registry, senders={"log": sink or tocsin.MemorySink()})
    clock = tocsin.ManualClock(START)
    engine = tocsin.EscalationEngine(plugins, store, clock=clock, channels=channels)  # type: ignore[arg-type]
    target = plugins.registry.targets.get("user").cls
    levels = (
        tocsin.EscalationLevel(delay_minutes=5, targets=(target(email="oncall@example.com"),)),
        tocsin.EscalationLevel(delay_minutes=10, targets=(target(email="lead@example.com"),)),
    )
    engine.register_policy(
        tocsin.EscalationPolicy(
            id="bench", levels=levels, repeat=tocsin.RepeatConfig(max_repeats=3, interval_minutes=20)
        )
    )
    return engine


def incidents(count: int) -> list[tocsin.Incident]:
    return [tocsin.Incident(id=f"inc-{i}", title="High CPU", severity="P1", created_at=START) for i in range(count)]


def start_all(engine: tocsin.EscalationEngine, batch: list[tocsin.Incident]) -> float:
    began = time.perf_counter()
    for incident in batch:
        engine.start_escalation(incident, "bench")
    return time.perf_counter() - began


def per_call(call: Callable[[datetime], object], times: int) -> float:
    """Seconds per ``call(now)`` at a moment when nothing is due (before 5m), over ``times`` calls."""
    now = START + timedelta(minutes=1)
    began = time.perf_counter()
    for _ in range(times):
        call(now)
    return (time.perf_counter() - began) / times


def per_tick(engine: tocsin.EscalationEngine) -> float:
    return per_call(engine.tick, TICKS)


def best_interleaved(runs: dict[int, Callable[[], float]]) -> dict[int, float]:
    best = {size: float("inf") for size in runs}
    for _ in range(ROUNDS):
        for size, run in runs.items():
            best[size] = min(best[size], run())
    return best


def idle_ticks(plugins: tocsin.Plugins) -> list[tuple[str, str, str, str, str, bool]]:
    engines = {}
    rows = []
    for size in SIZES:
        engine = make_engine(plugins)
        took = start_all(engine, incidents(size))
        assert engine.active_count() == size
        engines[size] = engine
        rows.append((f"start {size:,} escalations", f"{took / size * 1e6:.1f} us each", "", "", "", True))
    best = best_interleaved({size: (lambda e=engine: per_tick(e)) for size, engine in engines.items()})
    base = best[SIZES[0]]
    for size in SIZES:
        ratio = best[size] / base
        ok = ratio <= 2.0 if size == SIZES[-1] else True
        target = "<= 2x of 10" if size == SIZES[-1] else ""
        value = f"{best[size] * 1e9:.0f} ns"
        rows.append((f"idle tick, {size:,} active", value, f"{base * 1e9:.0f} ns", f"{ratio:.2f}x", target, ok))
    return rows


CLAIM_SIZES = (10, 100_000)
CLAIMS = 2_000


def per_claim(engine: tocsin.EscalationEngine) -> float:
    return per_call(engine.claim_due_work, CLAIMS)


def claims(plugins: tocsin.Plugins, directory: Path) -> list[tuple[str, str, str, str, str, bool]]:
    rows = []
    for kind in ("memory", "SQLite"):
        engines = {}
        for size in CLAIM_SIZES:
            store = None
            if kind == "SQLite":
                store = tocsin.SQLiteStore(directory / f"claims-{size}.db", plugins.registry, synchronous="normal")
            engine = make_engine(plugins, store=store)
            with engine.store.atomic():  # one commit for all of them: building is not what is measured
                start_all(engine, incidents(size))
            engines[size] = engine
        best = best_interleaved({size: (lambda e=engine: per_claim(e)) for size, engine in engines.items()})
        base = best[CLAIM_SIZES[0]]
        for size in CLAIM_SIZES:
            ratio = best[size] / base
            last = size == CLAIM_SIZES[-1]
            rows.append(
                (
                    f"claim, nothing due, {size:,} open ({kind})",
                    f"{best[size] * 1e6:.1f} us",
                    f"{base * 1e6:.1f} us",
                    f"{ratio:.2f}x",
                    "<= 2x of 10" if last else "",
                    ratio <= 2.0 if last else True,
                )
            )
    return rows


def fire_once(plugins: tocsin.Plugins) -> tuple[float, float]:
    """Seconds to fire ``FIRING`` due levels in one tick, and to deliver them to the in-memory sink."""
    sink = tocsin.MemorySink()
    engine = make_engine(plugins, sink)
    start_all(engine, incidents(FIRING))
    engine.clock.set(START + timedelta(minutes=5))  # type: ignore[attr-defined]
    gc.collect()
    began = time.perf_counter()
    fired = engine.tick()
    fire_seconds = time.perf_counter() - began
    began = time.perf_counter()
    asyncio.run(engine.outbox.flush())
    deliver_seconds = time.perf_counter() - began
    assert fired == FIRING and len(sink.notifications) == FIRING
    return fire_seconds, deliver_seconds


def firing(plugins: tocsin.Plugins) -> list[tuple[str, str, str, str, str, bool]]:
    runs = [fire_once(plugins) for _ in range(3)]  # best of three: other processes share this machine
    fire_seconds = min(fire for fire, _ in runs)
    total_seconds = min(fire + deliver for fire, deliver in runs)
    fire_rate = FIRING / fire_seconds
    total_rate = FIRING / total_seconds
    return [
        (f"fire {FIRING:,} levels (one tick)", f"{fire_rate:,.0f} levels/s", "", "", "", True),
        (
            "fire + deliver to in-memory sink",
            f"{total_rate:,.0f} levels/s",
            "10,000 levels/s",
            f"{total_rate / 10_000:.2f}x",
            ">= 10,000 levels/s",
            total_rate >= 10_000,
        ),
    ]


def memory(plugins: tocsin.Plugins) -> list[tuple[str, str, str, str, str, bool]]:
    batch = incidents(MEMORY)
    heap_entry = _measure(lambda: [(1_772_334_000_000_000 + i, i, f"inc-{i}") for i in range(MEMORY)])
    engine = make_engine(plugins)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    start_all(engine, batch)
    gc.collect()
    after_start = tracemalloc.take_snapshot()
    engine.tick(START + timedelta(minutes=5))
    gc.collect()
    after_fire = tracemalloc.take_snapshot()
    tracemalloc.stop()
    active = _diff(after_start, before) / MEMORY
    fired = _diff(after_fire, before) / MEMORY
    return [
        (
            "memory per active escalation",
            f"{active:,.0f} B",
            f"{heap_entry:,.0f} B",
            f"{active / heap_entry:.1f}x",
            "<= 2,048 B",
            active <= 2048,
        ),
        ("  ... after level 0 fired (+ outbox, journal)", f"{fired:,.0f} B", "", "", "", True),
    ]


def _measure(build: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = build()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del kept
    return _diff(after, before) / MEMORY


def _diff(after: tracemalloc.Snapshot, before: tracemalloc.Snapshot) -> float:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def main() -> int:
    configure_logging(json=True, level="WARNING")  # the audit observer runs; its info lines are dropped
    plugins = tocsin.load_plugins(autoload=False)
    with tempfile.TemporaryDirectory() as directory:
        rows = idle_ticks(plugins) + claims(plugins, Path(directory)) + firing(plugins) + memory(plugins)
    return print_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
