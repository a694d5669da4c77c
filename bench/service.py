"""Benchmark the service: incidents per second through the HTTP API, SQLite store vs in-memory store.

Run ``python bench/service.py``. A real uvicorn server runs in a background thread on 127.0.0.1; a load
generator (aiohttp, a fixed number of concurrent clients, a bounded number of requests and a time limit)
posts incidents that each go through dedup, routing, a policy and level 0 of an escalation (a page to the log
channel, delivered by the outbox). Everything is measured in this process, next to its baseline:

- *HTTP floor*: GET /health through the same server and client: what the HTTP stack alone costs;
- *in-memory*: POST /v1/incidents with the in-memory store (the baseline of the SQLite rows);
- *SQLite*: the same against a SQLite file (WAL, ``synchronous=full``: every incident's transactions are on
  disk before the answer). Target: at least 0.25x the in-memory rate (durability costs fsyncs, not design);
- p50 and p99 latency of POST /v1/incidents for each store, from the client's side.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

TOKEN = "bench-token-0123456789abcdef"
CONCURRENCY = 16
REQUESTS = 3_000  # per measurement
TIME_LIMIT = 30.0  # seconds per measurement, whatever REQUESTS says
WARMUP = 200
FULL_TARGET = 0.1  # every commit fsynced before the answer: bounded by the disk
NORMAL_TARGET = 0.25

CONFIG = {
    "server": {"tokens": [{"name": "bench", "token": TOKEN, "scopes": ["respond"]}]},
    "policies": [
        {
            "id": "standard",
            "severity_filter": ["P0", "P1"],
            "levels": [
                {"delay_minutes": 0, "targets": [{"type": "user", "email": "oncall@example.com"}]},
                {"delay_minutes": 5, "targets": [{"type": "user", "email": "lead@example.com"}]},
            ],
        }
    ],
    "rules": [
        {
            "name": "database incidents",
            "priority": 10,
            "conditions": [{"field": "source", "operator": "equals", "value": "db-monitor"}],
            "actions": [{"type": "add_labels", "labels": {"team": "data"}}],
        }
    ],
}


class Load:
    """Latencies (seconds) of the requests that completed, and the wall time they took together."""

    def __init__(self, latencies: list[float], seconds: float, failures: int) -> None:
        self.latencies = sorted(latencies)
        self.seconds = seconds
        self.failures = failures

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the requests completed (milliseconds)."""
        index = min(len(self.latencies) - 1, round(fraction * (len(self.latencies) - 1)))
        return self.latencies[index] * 1000


async def generate(url: str, make_request: Callable[[int], tuple[str, str, Any]], count: int) -> Load:
    """``count`` requests from ``CONCURRENCY`` clients over loopback, stopping at ``TIME_LIMIT``."""
    latencies: list[float] = []
    failures = 0
    issued = 0
    deadline = time.perf_counter() + TIME_LIMIT
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:

        async def client() -> None:
            nonlocal issued, failures
            while issued < count and time.perf_counter() < deadline:
                number = issued
                issued += 1
                method, path, body = make_request(number)
                began = time.perf_counter()
                async with http.request(method, path, json=body) as answer:
                    await answer.read()
                    if answer.status >= 300:
                        failures += 1
                        continue
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        return Load(latencies, time.perf_counter() - began, failures)


def incident(number: int) -> tuple[str, str, Any]:
    body = {"title": f"Replication lag on db{number}", "severity": "P1", "source": "db-monitor"}
    return "POST", "/v1/incidents", body


def health(number: int) -> tuple[str, str, Any]:
    return "GET", "/health", None


class Served:
    """``tocsin serve`` in a child process (its own interpreter: the load generator never competes with it for
    the GIL), on a free port of 127.0.0.1. Its log goes to a file; the URL is read from the line it writes
    when it is ready."""

    def __init__(self, config: Path) -> None:
        command = [sys.executable, "-m", "tocsin", "serve", "--config", str(config), "--port", "0"]
        log = config.with_suffix(".log")
        with log.open("w") as output:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=output)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            found = re.search(r"serving (http://\S+)", log.read_text(encoding="utf-8"))
            if found:
                self.url = found.group(1)
                return
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"tocsin serve did not start: {log.read_text(encoding='utf-8')}")

    def stop(self) -> None:
        """SIGTERM, and wait for the graceful stop."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def measure(folder: Path, storage: dict[str, str], make_request: Callable[[int], tuple[str, str, Any]]) -> Load:
    """Serve a fresh config with ``storage`` and run the load against it (after a warm-up)."""
    config = folder / f"bench-{len(list(folder.iterdir()))}.json"
    config.write_text(json.dumps({**CONFIG, "storage": storage}), encoding="utf-8")
    served = Served(config)
    try:
        asyncio.run(generate(served.url, make_request, WARMUP))
        return asyncio.run(generate(served.url, make_request, REQUESTS))
    finally:
        served.stop()


def row(name: str, value: str, baseline: str = "", ratio: float | None = None, target: float | None = None):
    """One line of the table: ``ok`` when the ratio meets the target (rows without a target always are)."""
    shown = f"{ratio:.2f}x" if ratio is not None else ""
    wanted = f">= {target:g}x" if target is not None else ""
    return (name, value, baseline, shown, wanted, target is None or (ratio is not None and ratio >= target))


def latency(load: Load) -> str:
    """p50 / p99 in milliseconds."""
    return f"{load.percentile(0.5):.1f} / {load.percentile(0.99):.1f} ms"


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        floor = measure(folder, {"backend": "memory"}, health)
        memory = measure(folder, {"backend": "memory"}, incident)
        full = measure(folder, {"path": str(folder / "full.db")}, incident)
        normal = measure(folder, {"path": str(folder / "normal.db"), "synchronous": "normal"}, incident)
    in_memory = f"{memory.rate:,.0f} inc/s (in-memory)"
    rows = [
        row("GET /health (HTTP floor)", f"{floor.rate:,.0f} req/s"),
        row("POST /v1/incidents, in-memory", f"{memory.rate:,.0f} inc/s", f"{floor.rate:,.0f} req/s (floor)",
            memory.rate / floor.rate),
        row("POST /v1/incidents, SQLite full", f"{full.rate:,.0f} inc/s", in_memory, full.rate / memory.rate,
            FULL_TARGET),
        row("POST /v1/incidents, SQLite normal", f"{normal.rate:,.0f} inc/s", in_memory, normal.rate / memory.rate,
            NORMAL_TARGET),
        row("p50 / p99 POST, in-memory", latency(memory)),
        row("p50 / p99 POST, SQLite full", latency(full), latency(memory),
            full.percentile(0.5) / memory.percentile(0.5)),
        row("p50 / p99 POST, SQLite normal", latency(normal), latency(memory),
            normal.percentile(0.5) / memory.percentile(0.5)),
    ]  # fmt: skip
    failures = floor.failures + memory.failures + full.failures + normal.failures
    print(f"{CONCURRENCY} concurrent clients, up to {REQUESTS} requests or {TIME_LIMIT:g}s per row; loopback only")
    header = ("measurement", "value", "baseline", "ratio", "target", "")
    widths = [max(len(str(line[i])) for line in [*rows, header]) for i in range(5)]
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=False)))
    for line in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(line[:5], widths, strict=True)]
        mark = ("ok" if line[5] else "MISSED") if line[4] else ""
        print("  ".join(cells), mark)
    if failures:
        print(f"{failures} requests failed", file=sys.stderr)
    return 0 if failures == 0 and all(line[5] for line in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
