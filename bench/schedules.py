"""Benchmark the schedule resolver: on-call lookups and final shifts, against a bare arithmetic rotation.

Run ``python bench/schedules.py``. Every figure is measured in this process next to its baseline (the best of
several interleaved rounds), so the ratios mean something on any machine:

- *baseline*: ``users[(t - start) // period % n]`` on the same instants: a rotation with no time zone, no
  restrictions, no overrides; the floor for any lookup;
- ``users_at`` and ``oncall_at`` for 1, 5 and 20 layers (time zone America/New_York, restrictions on most
  layers, an override on the 5- and 20-layer schedules), one day and ten years after the layers' start. The
  ``10y/1d`` column must stay near 1 (at most 1.2): the cost of a lookup does not grow with distance;
- ``shifts`` over a whole year for the same schedules.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import tocsin

START = datetime(2026, 1, 5, 9, 0)  # a Monday, local time
ZONE = "America/New_York"
INSTANTS = 1000
ROUNDS = 25
ROTATIONS: tuple[dict[str, Any], ...] = (
    {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9},
    {"type": "daily", "handoff_hour": 9},
    {"type": "custom", "duration_hours": 12},
    {"type": "daily", "handoff_hour": 0},
)
RESTRICTIONS: tuple[Any, ...] = (
    {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17},
    None,
    [{"days_of_week": [0, 6]}, {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 17, "end_hour": 9}],
    {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 8, "end_hour": 20},
)


def schedule_document(layers: int) -> dict[str, Any]:
    """A schedule with ``layers`` layers mixing rotations and restrictions (and one override when > 1)."""
    document = {
        "id": f"bench-{layers}",
        "timezone": ZONE,
        "layers": [
            {
                "name": f"layer-{index}",
                "users": [f"user{index}-{k}@example.com" for k in range(3 + index % 4)],
                "start": START.isoformat(),
                "rotation": ROTATIONS[index % len(ROTATIONS)],
                **({"restrictions": RESTRICTIONS[index % 4]} if RESTRICTIONS[index % 4] else {}),
            }
            for index in range(layers)
        ],
    }
    if layers > 1:
        document["overrides"] = [{"user": "cover@example.com", "start": "2026-02-02T09:00", "end": "2026-02-03T09:00"}]
    return document


def instants_after(delta: timedelta, seed: int) -> list[datetime]:
    """``INSTANTS`` instants spread over the week that begins ``delta`` after the start."""
    rng = random.Random(seed)
    base = START.replace(tzinfo=UTC) + timedelta(hours=5) + delta
    return [base + timedelta(seconds=rng.randrange(7 * 86400)) for _ in range(INSTANTS)]


def per_call(run: Callable[[Sequence[datetime]], None], instants: Sequence[datetime]) -> float:
    """Seconds per instant for one pass of ``run`` over ``instants``."""
    began = time.perf_counter()
    run(instants)
    return (time.perf_counter() - began) / len(instants)


def compare(
    run: Callable[[Sequence[datetime]], None],
    base: Callable[[Sequence[datetime]], None],
    near: Sequence[datetime],
    far: Sequence[datetime],
) -> tuple[float, float, float]:
    """Best time per call of ``run`` near the start, far from it, and of ``base``, measured in interleaved
    rounds so that a busy machine slows all three alike."""
    run(near), run(far), base(near)  # warm-up: zone tables, caches
    best_near = best_far = best_base = float("inf")
    for _ in range(ROUNDS):
        best_base = min(best_base, per_call(base, near))
        best_near = min(best_near, per_call(run, near))
        best_far = min(best_far, per_call(run, far))
    return best_near, best_far, best_base


def main() -> int:
    plugins = tocsin.load_plugins(autoload=False)
    registry = plugins.registry
    users = [f"user-{k}" for k in range(3)]
    start_ts = START.replace(tzinfo=UTC).timestamp()

    def baseline(instants: Sequence[datetime]) -> None:
        for t in instants:
            users[int((t.timestamp() - start_ts) // 604800) % 3]

    print(f"schedule lookups, {ZONE}, {INSTANTS} instants per round, best of {ROUNDS} rounds")
    header = f"{'case':<22}{'1d µs':>9}{'10y µs':>9}{'10y/1d':>9}{'x base':>9}{'base µs':>9}  verdict"
    print(header)
    print("-" * len(header))
    near, far = instants_after(timedelta(days=1), 1), instants_after(timedelta(days=3652), 2)
    base_near = compare(baseline, baseline, near, far)[2]
    print(f"{'baseline (arithmetic)':<22}{base_near * 1e6:>9.2f}{'':>9}{'':>9}{1:>9.1f}{base_near * 1e6:>9.2f}")
    worst = 0.0
    resolvers = {}
    for layers in (1, 5, 20):
        config = tocsin.parse_config({"schedules": [schedule_document(layers)]}, registry)
        resolver = tocsin.compile_schedule(config.schedules[0], registry)
        resolvers[layers] = resolver
        for name, method in (("users_at", resolver.users_at), ("oncall_at", resolver.oncall_at)):

            def run(instants: Sequence[datetime], method: Callable[[datetime], Any] = method) -> None:
                for t in instants:
                    method(t)

            t_near, t_far, b_near = compare(run, baseline, near, far)
            ratio = t_far / t_near
            worst = max(worst, ratio)
            verdict = "ok" if ratio <= 1.2 else "SLOWER WITH DISTANCE"
            if layers == 1:
                verdict += f"; {'within' if t_near <= 10 * b_near else 'over'} 10x baseline"
            print(
                f"{f'{name} {layers} layer(s)':<22}{t_near * 1e6:>9.2f}{t_far * 1e6:>9.2f}{ratio:>9.2f}"
                f"{t_near / b_near:>9.1f}{b_near * 1e6:>9.2f}  {verdict}"
            )

    print()
    print("final shifts over one year (from 2026-02-01)")
    header = f"{'layers':<10}{'ms':>10}{'shifts':>10}{'µs/shift':>10}"
    print(header)
    print("-" * len(header))
    low = datetime(2026, 2, 1, tzinfo=UTC)
    high = low + timedelta(days=365)
    for layers, resolver in resolvers.items():
        resolver.shifts(low, high)  # warm-up
        best, count = float("inf"), 0
        for _ in range(3):
            began = time.perf_counter()
            count = len(resolver.shifts(low, high))
            best = min(best, time.perf_counter() - began)
        print(f"{layers:<10}{best * 1e3:>10.1f}{count:>10}{best / max(count, 1) * 1e6:>10.2f}")
    print()
    print(f"worst 10y/1d ratio: {worst:.2f} ({'ok' if worst <= 1.2 else 'over 1.2'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
