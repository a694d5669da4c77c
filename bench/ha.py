"""Benchmark several `tocsin serve` instances on one PostgreSQL database, side by side with SQLite alone.

Run ``python bench/ha.py`` (``--dsn postgresql://...`` for a server of your own: each run makes and drops
databases on it; without it a throwaway server is started with the test suite's harness, which needs
PostgreSQL's ``initdb`` and ``pg_ctl``). For 1, 2 and 3 instances on PostgreSQL, and 1 on a SQLite file:

- *incidents accepted/s*: 16 clients post incidents round-robin over the instances for ``--seconds``; the
  rate of 201s and their p50/p99 latency;
- *levels fired/s*: ``--levels`` open escalations whose next level comes due at one instant are written to a
  fresh database, the instances start on it (each holds every escalation: a fleet coming back after an
  outage), and the bench watches the journal every 20 ms until every level has fired once: the levels over
  the seconds from the due instant to the last commit, the p99 lateness (when 99% had been committed, after the
  due instant), and the commits the instances lost to each other (``tocsin_cas_conflicts_total``: work done
  twice and thrown away).

Everything runs on 127.0.0.1, on this machine's two cores: more instances share the same CPUs, so this shows
what coordination costs, not what more machines would add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

import tocsin
from tocsin.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
CONCURRENCY = 16
LEAD_SECONDS = 15.0  # from writing the due escalations to their due instant: time for the instances to start
POLICY = {
    "id": "standard",
    "levels": [
        {"delay_minutes": 1, "targets": [{"type": "user", "email": "oncall@example.com"}]},
        {"delay_minutes": 30, "targets": [{"type": "user", "email": "lead@example.com"}]},
    ],
}


class Fleet:
    """``count`` `tocsin serve` processes on one store, logs in ``folder``."""

    def __init__(self, folder: Path, storage: dict[str, Any], count: int, env: dict[str, str]) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        for number in range(count):
            config = folder / f"instance-{number}.json"
            config.write_text(
                json.dumps(
                    {
                        "server": {
                            "tokens": [{"name": "bench", "token": TOKEN, "scopes": ["admin"]}],
                            "instance_id": f"bench-{number}",
                        },
                        "storage": storage,
                        "policies": [POLICY],
                    }
                )
            )
            log = folder / f"instance-{number}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "tocsin", "serve", "--config", str(config), "--port", "0"],
                    stdout=sink,
                    stderr=sink,
                    env={**os.environ, **env},
                )
            self.processes.append(process)
            self.urls.append(_wait_for_url(process, log))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"tocsin: serving (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"tocsin serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"tocsin serve did not start; see {log}")


async def ingest(urls: list[str], seconds: float) -> tuple[float, float, float, int]:
    """Post incidents round-robin over ``urls`` from CONCURRENCY clients: (201s per second, p50 ms, p99 ms,
    failures)."""
    latencies: list[float] = []
    failures = 0
    sent = 0
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * len(urls))
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        began = time.perf_counter()
        deadline = began + seconds

        async def client() -> None:
            nonlocal failures, sent
            while time.perf_counter() < deadline:
                number = sent
                sent += 1
                body = json.dumps({"id": f"inc-{number}", "title": "Disk full", "severity": "P1"})
                start = time.perf_counter()
                try:
                    async with http.post(f"{urls[number % len(urls)]}/v1/incidents", data=body) as answer:
                        good = answer.status == 201
                        await answer.read()
                except (aiohttp.ClientError, TimeoutError):
                    good = False
                if good:
                    latencies.append(time.perf_counter() - start)
                else:
                    failures += 1

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, _percentile(latencies, 0.5) * 1e3, _percentile(latencies, 0.99) * 1e3, failures


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def fill(store: tocsin.EscalationStore, incidents: tocsin.IncidentStore, count: int, due: datetime) -> None:
    """``count`` open escalations whose first level comes due at ``due``, written in one transaction."""
    plugins = tocsin.load_plugins()
    config = tocsin.parse_config({"policies": [POLICY]}, plugins.registry, source="bench")
    clock = tocsin.ManualClock(due - timedelta(minutes=1))
    engine = tocsin.EscalationEngine(plugins, store, clock=clock, config=config, observe=False)
    with store.atomic():
        for number in range(count):
            incident = tocsin.Incident(id=f"due-{number}", title="High CPU", severity="P1", created_at=clock.now())
            incidents.save(incident)
            engine.start_escalation(incident, "standard")


def count_fired(read: Callable[[str], list[tuple[Any, ...]]]) -> int:
    """How many levels have fired so far, from the journal."""
    ((count,),) = read("SELECT COUNT(*) FROM journal WHERE kind = 'level_fired'")
    return int(count)


async def conflicts(urls: list[str]) -> int:
    total = 0
    async with aiohttp.ClientSession() as http:
        for url in urls:
            async with http.get(f"{url}/metrics") as answer:
                text = await answer.text()
            for value in re.findall(r"^tocsin_cas_conflicts_total\{[^}]*\} (\S+)$", text, re.MULTILINE):
                total += int(float(value))
    return total


def fire(
    folder: Path,
    storage: dict[str, Any],
    count: int,
    env: dict[str, str],
    open_store: Callable[[], tuple[Any, Any]],
    read: Callable[[str], list[tuple[Any, ...]]],
    levels: int,
) -> tuple[float, float, int]:
    """(levels fired per second, p99 lateness in ms, lost compare-and-sets) with ``count`` instances."""
    due = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    store, incidents = open_store()
    fill(store, incidents, levels, due)
    store.close()
    fleet = Fleet(folder, storage, count, env)
    samples: list[tuple[float, int]] = []  # (seconds after the due instant, levels fired by then)
    try:
        deadline = time.monotonic() + LEAD_SECONDS + 120
        while time.monotonic() < deadline:
            fired = count_fired(read)
            samples.append(((datetime.now(UTC) - due).total_seconds(), fired))
            if fired >= levels:
                break
            time.sleep(0.02)
        lost = asyncio.run(conflicts(fleet.urls))
    finally:
        fleet.stop()
    if not samples or samples[-1][1] < levels:
        raise RuntimeError(f"not every one of {levels} levels fired within 120 s of their due time")

    def by(share: float) -> float:  # seconds after the due instant by which this share of the levels had fired
        return next(at for at, fired in samples if fired >= share * levels)

    return levels / max(by(1.0), 1e-3), max(by(0.99), 0.0) * 1e3, lost


@contextmanager
def postgres(dsn: str | None) -> Iterator[Callable[[], str]]:
    """Something that makes a fresh database and gives its DSN: on ``dsn``'s server, or a throwaway one."""
    if dsn is not None:
        made: list[str] = []

        def create() -> str:
            name = f"tocsin_bench_{os.getpid()}_{len(made)}"
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            made.append(name)
            return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", dsn, count=1) if "://" in dsn else f"{dsn} dbname={name}"

        yield create
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from support.postgres import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL is not installed (initdb/pg_ctl not found); give --dsn to use a server")
    server = PostgresServer(binaries)
    server.start()
    try:
        yield server.create_database
    finally:
        server.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a PostgreSQL server to make the bench databases on (default: a throwaway one)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each ingest measurement posts")
    parser.add_argument("--levels", type=int, default=2000, help="escalations due at once in each firing run")
    options = parser.parse_args()
    configure_logging(json=True, level="WARNING")
    plugins = tocsin.load_plugins()
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as scratch, postgres(options.dsn) as create_database:
        base = Path(scratch)
        setups: list[tuple[str, int, Callable[[Path], tuple[dict[str, Any], dict[str, str], Any, Any]]]] = []

        def sqlite_setup(folder: Path) -> tuple[dict[str, Any], dict[str, str], Any, Any]:
            path = folder / "tocsin.db"

            def open_store() -> tuple[Any, Any]:
                store = tocsin.SQLiteStore(path, plugins.registry, synchronous="normal")
                return store, store.incidents

            def read(sql: str) -> list[tuple[Any, ...]]:
                with sqlite3.connect(path) as connection:
                    return connection.execute(sql).fetchall()

            return {"path": str(path), "synchronous": "normal"}, {}, open_store, read

        def postgres_setup(folder: Path) -> tuple[dict[str, Any], dict[str, str], Any, Any]:
            dsn = create_database()

            def open_store() -> tuple[Any, Any]:
                store = tocsin.PostgresStore(dsn, plugins.registry)
                return store, store.incidents

            def read(sql: str) -> list[tuple[Any, ...]]:
                with psycopg.connect(dsn) as connection:
                    return connection.execute(sql).fetchall()

            storage = {"backend": "postgresql", "dsn_env": "TOCSIN_BENCH_DATABASE_URL"}
            return storage, {"TOCSIN_BENCH_DATABASE_URL": dsn}, open_store, read

        setups.append(("SQLite (normal), 1 instance", 1, sqlite_setup))
        setups.extend((f"PostgreSQL, {count} instance(s)", count, postgres_setup) for count in (1, 2, 3))
        for title, count, setup in setups:
            print(f"{title} ...", file=sys.stderr, flush=True)
            folder = base / re.sub(r"\W+", "-", title).strip("-")
            (folder / "ingest").mkdir(parents=True)
            (folder / "fire").mkdir()
            storage, env, _, _ = setup(folder / "ingest")
            fleet = Fleet(folder / "ingest", storage, count, env)
            try:
                rate, p50, p99, failures = asyncio.run(ingest(fleet.urls, options.seconds))
            finally:
                fleet.stop()
            storage, env, open_store, read = setup(folder / "fire")
            levels_rate, late_p99, lost = fire(folder / "fire", storage, count, env, open_store, read, options.levels)
            rows.append(
                (
                    title,
                    f"{rate:,.0f}/s",
                    f"{p50:.1f} / {p99:.1f}",
                    str(failures),
                    f"{levels_rate:,.0f}/s",
                    f"{late_p99:,.0f} ms",
                    str(lost),
                )
            )
    header = (
        "store, instances",
        "incidents accepted",
        "p50 / p99 ms",
        "fails",
        f"levels fired ({options.levels:,} due at once)",
        "p99 lateness",
        "lost CAS",
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"{CONCURRENCY} clients; ingest {options.seconds:g} s per row; 127.0.0.1, {os.cpu_count()} CPUs")
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
