"""Benchmark a restart: `tocsin serve` on a SQLite file holding many open escalations.

Run ``python bench/restart.py`` (``--open 10000`` for a shorter run). A file is filled with open escalations
(written in one transaction: building it is not what is measured), then the real ``tocsin serve`` is started
on it, and on an empty file as the baseline, in this same run:

- *time to first /health*: from starting the process to the first ``200`` from ``GET /health`` (the
  baseline: the same on the empty file, so Python's and the server's own start-up can be told apart);
- *memory per open escalation*: the server's resident memory (``VmRSS``) once it answers, less the empty
  file's, divided by the number of open escalations.

Targets (the speed issue): <= 2 s to the first ``/health`` with 100,000 open, <= 1.2 KB per open escalation.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from _table import print_table  # bench/ is on the path when run as a script

import tocsin
from tocsin.logs import configure_logging

TOKEN = "bench-token-0123456789abcdef"
START = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
POLICY = {
    "id": "standard",
    "levels": [
        {"delay_minutes": 60 * 24 * 365, "targets": [{"type": "user", "email": "oncall@example.com"}]},
        {"delay_minutes": 60 * 24 * 366, "targets": [{"type": "user", "email": "lead@example.com"}]},
    ],
}


def fill(path: Path, count: int) -> None:
    """``count`` open escalations in ``path``, none due for a year (the server only has to load them)."""
    plugins = tocsin.load_plugins()
    config = tocsin.parse_config({"policies": [POLICY]}, plugins.registry, source="bench")
    clock = tocsin.SystemClock()
    store = tocsin.SQLiteStore(path, plugins.registry, clock=clock, synchronous="normal")
    engine = tocsin.EscalationEngine(plugins, store, clock=clock, config=config)
    with store.atomic():
        for number in range(count):
            incident = tocsin.Incident(id=f"inc-{number}", title="High CPU", severity="P1", created_at=clock.now())
            store.incidents.save(incident)
            engine.start_escalation(incident, "standard")
    store.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def serve(directory: Path, database: Path) -> tuple[float, int]:
    """Seconds from starting ``tocsin serve`` on ``database`` to its first 200 from /health, and its RSS then."""
    port = _free_port()
    config = directory / f"{database.stem}.yaml"
    document = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "tokens": [{"name": "bench", "token": TOKEN, "scopes": ["read"]}],
        },
        "storage": {"path": str(database), "synchronous": "normal"},
        "policies": [POLICY],
    }
    config.write_text(yaml.safe_dump(document))
    log = (directory / f"{database.stem}.log").open("wb")
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tocsin", "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        while not _health(port):
            if process.poll() is not None:
                raise RuntimeError(f"tocsin serve exited with {process.returncode}; see {log.name}")
            if time.perf_counter() - began > 120:
                raise RuntimeError("tocsin serve did not answer /health within 120 s")
            time.sleep(0.01)
        seconds = time.perf_counter() - began
        return seconds, _rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open escalations in the file")
    parser.add_argument("--runs", type=int, default=3, help="starts of each server (the best is kept)")
    options = parser.parse_args()
    configure_logging(json=True, level="WARNING")
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        empty, full = directory / "empty.db", directory / "full.db"
        fill(empty, 0)
        began = time.perf_counter()
        fill(full, options.open)
        print(f"filled {options.open:,} open escalations in {time.perf_counter() - began:.1f} s", flush=True)
        base_runs = [serve(directory, empty) for _ in range(options.runs)]
        full_runs = [serve(directory, full) for _ in range(options.runs)]
    base_seconds, base_rss = min(base_runs)
    seconds, rss = min(full_runs)
    per_escalation = (rss - base_rss) / max(options.open, 1)
    rows = [
        (
            f"first /health, {options.open:,} open",
            f"{seconds * 1e3:,.0f} ms",
            f"{base_seconds * 1e3:,.0f} ms empty",
            f"{seconds / base_seconds:.1f}x",
            "<= 2,000 ms",
            seconds <= 2.0,
        ),
        (
            "memory per open escalation",
            f"{per_escalation:,.0f} B",
            f"{base_rss / 2**20:,.0f} MiB empty",
            f"{rss / base_rss:.1f}x RSS",
            "<= 1,229 B",
            per_escalation <= 1229,
        ),
    ]
    return print_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
