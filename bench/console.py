"""Benchmark the web console's pages with 1,000 open incidents on SQLite, server-side.

Run ``python bench/console.py`` (``--open 300`` for a shorter run, ``--runs 50`` for more samples). A SQLite
file gets ``--open`` open incidents through the service (each routed, escalated and paged at level 0; one in
ten acknowledged, labels and severities mixed over two policies; the incident page's with notes and a
reassignment; run-time overrides on the schedule), then every console page is asked for through
the app itself, in this process: the time is the server's, from the request entering the ASGI app to its last
byte leaving it (routing, the session check, the store reads and the template), with no network or client in
it. Each figure is the median of ``--runs`` requests after a warm-up.

Baselines, measured in the same run on the same data:

- *JSON API*: ``GET /v1/incidents?open=true&limit=25``, the API's answer for the list's first page;
- *empty page*: ``GET /ui/sign-in`` before signing in, a console page with nothing from the store on it (the
  template, the session cookie and the headers).

Target (the console issue): no page slower than 50 ms server-side with 1,000 open incidents. Filtered lists
read the store newest first and test each incident (at most 5,000 per page), so a filter that matches few
incidents costs a pass over the open ones. The exit code is 1 when a page misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _table import print_table  # bench/ is on the path when run as a script

import tocsin
from tocsin.logs import configure_logging
from tocsin.server import create_app, sqlite_storage
from tocsin.server.views import NoteRequest, OverrideRequest, ReassignRequest

TOKEN = "bench-admin-token-0123456789abcdef"
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TARGET_MS = 50.0
CONFIG: dict[str, Any] = {
    "server": {"tokens": [{"name": "bench", "token": TOKEN, "scopes": ["admin"]}]},
    "teams": {"platform": ["eng1@example.com", "eng2@example.com"]},
    "schedules": [
        {
            "id": "primary-oncall",
            "name": "Primary On-Call",
            "timezone": "America/New_York",
            "layers": [
                {
                    "name": "Primary",
                    "users": ["engineer1@example.com", "engineer2@example.com"],
                    "start": "2026-01-05T09:00:00",
                    "rotation": {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9},
                    "restrictions": [{"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17}],
                },
                {
                    "name": "After Hours",
                    "users": ["oncall1@example.com", "oncall2@example.com"],
                    "start": "2026-01-05T00:00:00",
                    "rotation": {"type": "daily", "handoff_hour": 0},
                    "restrictions": [{"start_hour": 17, "end_hour": 9}],
                },
            ],
            "overrides": [
                {"user": "engineer3@example.com", "start": "2026-03-02T09:00:00", "end": "2026-03-03T09:00:00"}
            ],
        }
    ],
    "policies": [
        {
            "id": "standard-p1",
            "severity_filter": ["P0", "P1"],
            "levels": [
                {"delay_minutes": 0, "targets": [{"type": "schedule", "schedule_id": "primary-oncall"}]},
                {"delay_minutes": 5, "targets": [{"type": "user", "email": "lead@example.com"}]},
                {"delay_minutes": 10, "targets": [{"type": "team", "team_id": "platform"}]},
            ],
        },
        {
            "id": "standard-low",
            "severity_filter": ["P2", "P3", "P4"],
            "levels": [{"delay_minutes": 0, "targets": [{"type": "schedule", "schedule_id": "primary-oncall"}]}],
        },
        {  # no incident gets it: asking for its incidents is a pass over every open one
            "id": "quiet",
            "enabled": False,
            "levels": [{"delay_minutes": 0, "targets": [{"type": "user", "email": "lead@example.com"}]}],
        },
    ],
}

App = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class Client:
    """Requests made to the ASGI app in this process; ``seconds`` is the time the app took on the last one."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.cookie = ""
        self.seconds = 0.0

    async def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None):
        path, _, query = target.partition("?")
        sent = {"cookie": self.cookie, **(headers or {})}
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(name.lower().encode(), value.encode()) for name, value in sent.items() if value],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
        status, answer_headers, chunks = 0, [], []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, answer_headers
            if message["type"] == "http.response.start":
                status, answer_headers = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.seconds = time.perf_counter() - started
        for name, value in answer_headers:
            if name == b"set-cookie":
                self.cookie = value.decode().split(";")[0]
        return status, b"".join(chunks).decode()


async def fill(service: Any, count: int) -> None:
    """``count`` open incidents through the service; one in ten acknowledged; the newest with notes and
    reassigned (two escalations in its timeline); run-time overrides over the calendar's two weeks."""
    for number in range(count):
        severity = ("P1", "P1", "P2", "P3", "P0")[number % 5]
        labels = {"team": ("db", "web", "queue")[number % 3], "host": f"host-{number % 40}"}
        title = f"Incident {number}: latency above threshold on host-{number % 40}"
        await service.create_incident({"id": f"inc-{number}", "title": title, "severity": severity, "labels": labels})
    for number in range(0, count, 10):
        await service.commits.run(lambda number=number: service.acknowledge(f"inc-{number}", "bench"))
    newest = f"inc-{count - 1}"
    for number in range(3):
        await service.add_note(newest, NoteRequest(text=f"looked at host-{number}: nothing yet"), "bench")
    await service.reassign(newest, ReassignRequest(policy="standard-p1"), "bench")
    for day in range(1, 13, 2):
        start = START + timedelta(days=day)
        override = OverrideRequest(user="engineer3@example.com", start=start, end=start + timedelta(hours=6))
        await service.add_override("primary-oncall", override, "bench")


async def measure(client: Client, target: str, runs: int, headers: dict[str, str] | None = None) -> float:
    """The median server-side time of ``runs`` GETs of ``target``, in milliseconds (after 3 warm-ups)."""
    samples = []
    for attempt in range(runs + 3):
        status, _ = await client.request("GET", target, headers=headers)
        assert status == 200, (target, status)
        if attempt >= 3:
            samples.append(client.seconds * 1000)
    return statistics.median(samples)


async def run(count: int, runs: int, folder: Path) -> int:
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    config = tocsin.parse_config(CONFIG, plugins.registry, source="bench")
    storage = sqlite_storage(str(folder / "console.db"), plugins.registry, clock, synchronous="normal")
    app = create_app(config, plugins, storage=storage, clock=clock, run_monitor=False)
    service = app.state.service
    await fill(service, count)
    client = Client(app)
    _, page = await client.request("GET", "/ui/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urlencode({"csrf": csrf, "token": TOKEN}).encode()
    status, _ = await client.request(
        "POST", "/ui/sign-in", form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert status == 303, status

    api = await measure(client, "/v1/incidents?open=true&limit=25", runs, headers={"authorization": f"Bearer {TOKEN}"})
    empty = await measure(Client(app), "/ui/sign-in", runs)  # a visitor not signed in: the bare sign-in form
    pages = [
        ("list, open (first page)", "/ui/incidents"),
        ("list rows, refreshed", "/ui/live/incidents?status=open"),
        ("list, open (page 20)", "/ui/incidents?status=open&offset=475"),
        ("list, acknowledged", "/ui/incidents?status=acknowledged"),
        ("list, severity P3", "/ui/incidents?status=open&severity=P3"),
        ("list, policy standard-low", "/ui/incidents?status=open&policy=standard-low"),
        ("list, label team=db", "/ui/incidents?status=open&label=team%3Ddb"),
        ("list, policy none have (full pass)", "/ui/incidents?status=open&policy=quiet"),
        ("list, label none have (full pass)", "/ui/incidents?status=open&label=team%3Dnobody"),
        ("list, resolved (none)", "/ui/incidents?status=resolved"),
        ("incident", f"/ui/incidents/inc-{count - 1}"),
        ("incident, refreshed", f"/ui/live/incidents/inc-{count - 1}"),
        ("on call now", "/ui/oncall"),
        ("schedule calendar", "/ui/schedules/primary-oncall"),
        ("policies", "/ui/policies"),
    ]
    rows = [
        ("JSON API list (baseline)", f"{api:.2f} ms", "", "", "", True),
        ("empty page (baseline)", f"{empty:.2f} ms", "", "", "", True),
    ]
    for name, target in pages:
        took = await measure(client, target, runs)
        rows.append(
            (
                f"{name}, {count} open",
                f"{took:.2f} ms",
                f"API {api:.2f} ms",
                f"{took / api:.1f}x",
                f"< {TARGET_MS:g} ms",
                took < TARGET_MS,
            )
        )
    storage.close()
    return print_table(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=1000, help="open incidents (default 1000)")
    parser.add_argument("--runs", type=int, default=30, help="requests measured per page (default 30)")
    options = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(run(options.open, options.runs, Path(folder)))


if __name__ == "__main__":
    raise SystemExit(main())
