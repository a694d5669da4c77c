"""Benchmark the service: tocsin's HTTP ingest next to a bare endpoint and a real Alertmanager, in one run.

Run ``python bench/service.py`` (``--runs 3`` for the median of three, ``--quick`` for smaller counts).

A rate means little alone: it depends on the machine, the HTTP stack and the load generator. So every row is
measured here, in the same run, with the same load generator, against the baselines it is judged by:

- *bare*: a Starlette app with one POST endpoint that reads the JSON body and answers 201 with a small JSON
  body, served by uvicorn with the settings ``tocsin serve`` uses (``lifespan="on"``, ``log_level="warning"``,
  no access log, uvicorn's default loop and HTTP implementation, the same listening socket). It gets the very
  requests tocsin gets. What the HTTP stack and the load generator alone cost: the ceiling of every row;
- *tocsin, POST /v1/incidents*: the real ``tocsin serve --config`` (``python -m tocsin serve`` of this
  interpreter, with a config written for the run), in memory, then on SQLite with ``synchronous: normal`` and
  ``synchronous: full``. Each incident is distinct (its own dedup key), so each goes through dedup, routing
  (one rule), a policy and level 0 of its escalation (a page on the log channel, delivered by the outbox),
  with tocsin's audit log written as it serves. Targets: in memory at least 0.3x the bare rate, SQLite
  ``normal`` 0.15x, ``full`` 0.1x (a commit's fsync is the disk's cost, not tocsin's);
- *Alertmanager*: a real Prometheus Alertmanager (when ``prometheus-alertmanager`` or ``alertmanager`` is on
  PATH; CI installs it), POST /api/v2/alerts with one alert per request and with batches of 100 distinct
  alerts (clustering off, a receiver that sends nothing): what ingesting alerts costs a tool built for it;
- *tocsin, POST /v1/integrations/prometheus*: the same alerts in Alertmanager's webhook format (version 4),
  one per request and 100 per request, in memory, each opening and escalating an incident. Targets for the
  batch of 100: at most 200 µs of server CPU per alert, and an alert rate within 3x of Alertmanager's;
- every tocsin row: p99 at most 3x p50 with 16 clients (no request waits behind a long stall).

Each server runs in its own process on a free port of 127.0.0.1 (a fresh one per measurement), so its CPU time
(utime + stime from /proc/PID/stat, all its threads) is read before and after the measured requests: the
table prints server CPU per request (and per alert). The load generator is this process: aiohttp, 16
concurrent keep-alive connections, a warm-up, then a bounded number of requests and a time limit, whichever
ends first. Its own CPU per request is printed too, with the share of one core it kept busy: near 100%, the
client is the bottleneck (as it can be for the bare row and Alertmanager's one-alert row, whose rates are then
what one Python client can send, and the ratios to them flatter tocsin; the server CPU per request over the
bare endpoint's, also printed, does not depend on the client). Every body is encoded before the clock
starts. An answer counts when its status is the expected one (201 for a new incident: a 200 would be a folded
duplicate; every alert of an integration batch ``created``); any other answer is a failure.

The SQLite files are in the temporary folder (``TMPDIR`` chooses it), whose file system is printed: on a tmpfs
an fsync costs nothing, and ``full`` means little. With ``--runs N`` the servers are measured in N interleaved
rounds and each figure is the median of its N values. The exit code is 1 when a target is missed or a request
failed. Nothing but 127.0.0.1 is contacted; the servers and the temporary folder are removed on any exit
(Ctrl-C and SIGTERM too; the servers also get SIGTERM if this process is killed outright).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import attrs

API_TOKEN = "bench-token-0123456789abcdef"
ALERTS_TOKEN = "bench-alerts-token-0123456789abcdef"
CONCURRENCY = 16
BATCH = 100  # alerts per request in the batch rows
STARTS_AT = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

CONFIG: dict[str, Any] = {
    "server": {"host": "127.0.0.1", "tokens": [{"name": "bench", "token": API_TOKEN, "scopes": ["respond"]}]},
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
    "integrations": {
        "prometheus": {"type": "alertmanager", "token": ALERTS_TOKEN, "defaults": {"incident_type": "Infrastructure"}}
    },
}
ALERTMANAGER_CONFIG = {"route": {"receiver": "null", "group_by": ["alertname"]}, "receivers": [{"name": "null"}]}


@attrs.frozen(kw_only=True)
class Settings:
    """How much load each measurement gets."""

    requests: int = 5_000  # single-item requests per measurement
    batches: int = 300  # requests of BATCH alerts per measurement
    warmup: int = 300
    warmup_batches: int = 20
    time_limit: float = 8.0  # seconds per measurement, whatever the counts say
    runs: int = 1


QUICK = Settings(requests=1_000, batches=60, warmup=100, warmup_batches=5, time_limit=3.0)


# --- what is sent ------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Shape:
    """A kind of request: where it goes, with which token, and what a good answer is."""

    path: str
    token: str
    items: int  # incidents or alerts per request
    unit: str  # what an item is called in the table
    body: Callable[[int], bytes]  # the body of request number N: distinct for every N
    accepts: Callable[[int, bytes], bool]  # status and answer body -> it did what was asked


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _incident(number: int) -> bytes:
    return _encode(
        {
            "title": f"Replication lag on db{number}",
            "severity": "P1",
            "source": "db-monitor",
            "dedup_key": f"bench/db{number}",
            "labels": {"host": f"db{number}"},
        }
    )


def _labels(alert: int) -> dict[str, str]:
    return {"alertname": "DiskFull", "instance": f"db-{alert}:9100", "job": "node", "severity": "critical"}


def _annotations(alert: int) -> dict[str, str]:
    return {"summary": f"Disk full on db-{alert}", "description": "Less than 5% left"}


def _api_alerts(count: int) -> Callable[[int], bytes]:
    """Bodies of Alertmanager's POST /api/v2/alerts: ``count`` distinct firing alerts each."""

    def body(number: int) -> bytes:
        return _encode(
            [
                {
                    "labels": _labels(alert),
                    "annotations": _annotations(alert),
                    "startsAt": STARTS_AT,
                    "generatorURL": "http://prometheus.example.com:9090/graph",
                }
                for alert in range(number * count, (number + 1) * count)
            ]
        )

    return body


def _webhook(count: int) -> Callable[[int], bytes]:
    """Alertmanager webhook bodies (version 4) with ``count`` distinct firing alerts each, the same alerts as
    ``_api_alerts`` sends."""

    def body(number: int) -> bytes:
        alerts = [
            {
                "status": "firing",
                "labels": _labels(alert),
                "annotations": _annotations(alert),
                "startsAt": STARTS_AT,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph",
                "fingerprint": f"{alert:016x}",
            }
            for alert in range(number * count, (number + 1) * count)
        ]
        return _encode(
            {
                "version": "4",
                "groupKey": '{}:{alertname="DiskFull"}',
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "tocsin",
                "groupLabels": {"alertname": "DiskFull"},
                "commonLabels": {"alertname": "DiskFull", "job": "node", "severity": "critical"},
                "commonAnnotations": {"description": "Less than 5% left"},
                "externalURL": "http://alertmanager.example.com:9093",
                "alerts": alerts,
            }
        )

    return body


def _all_created(count: int) -> Callable[[int, bytes], bool]:
    return lambda status, answer: status == 200 and answer.count(b'"result":"created"') == count


INCIDENTS = Shape(
    path="/v1/incidents",
    token=API_TOKEN,
    items=1,
    unit="inc",
    body=_incident,
    accepts=lambda status, _: status == 201,
)
BARE = attrs.evolve(INCIDENTS, unit="req")
AM_SINGLE = Shape(
    path="/api/v2/alerts",
    token="",
    items=1,
    unit="alerts",
    body=_api_alerts(1),
    accepts=lambda status, _: status == 200,
)
AM_BATCH = attrs.evolve(AM_SINGLE, items=BATCH, body=_api_alerts(BATCH))
WEBHOOK_SINGLE = Shape(
    path="/v1/integrations/prometheus",
    token=ALERTS_TOKEN,
    items=1,
    unit="alerts",
    body=_webhook(1),
    accepts=_all_created(1),
)
WEBHOOK_BATCH = attrs.evolve(WEBHOOK_SINGLE, items=BATCH, body=_webhook(BATCH), accepts=_all_created(BATCH))


# --- the servers -------------------------------------------------------------------------------------------


@attrs.frozen
class Server:
    process: subprocess.Popen[bytes]
    url: str


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the bench dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class Children:
    """The servers this bench started: each with its log in ``folder``, stopped when done or on any exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def next_file(self, name: str) -> Path:
        """A path in the folder for a file of the next server to start (its config, its database)."""
        return self.folder / f"{self.started + 1:02d}-{name}"

    def start(self, name: str, argv: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``argv`` in its own session (a Ctrl-C reaches the bench, which stops it) with a fresh log."""
        log = self.next_file(f"{name}.log")
        self.started += 1
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.running.append(process)
        return process, log

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM and wait for the graceful stop; kill it after 15 s."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)

    def wait_for(self, process: subprocess.Popen[bytes], log: Path, ready: Callable[[], str | None]) -> str:
        """Poll ``ready`` (the URL once serving, else None) until it answers; fail with the log's tail."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            url = ready()
            if url:
                return url
            time.sleep(0.05)
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{log.name}: the server did not start (exit code {process.poll()}):\n{tail}")


def _answers_200(url: str, path: str) -> bool:
    """GET ``path`` on the 127.0.0.1 ``url`` (http.client: no proxy is ever consulted) is a 200."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _listening(log: Path, pattern: str, health: str | None = None) -> Callable[[], str | None]:
    """The URL the server wrote to its log, once it is there (and ``health`` answers 200)."""

    def ready() -> str | None:
        found = re.search(pattern, log.read_text(encoding="utf-8", errors="replace"))
        if found is None or (health is not None and not _answers_200(found.group(1), health)):
            return None
        return found.group(1)

    return ready


def start_bare(children: Children) -> Server:
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve-bare"]
    process, log = children.start("bare", argv)
    return Server(process, children.wait_for(process, log, _listening(log, r"bare: serving (http://\S+)")))


def start_tocsin(storage: dict[str, str]) -> Callable[[Children], Server]:
    """``tocsin serve --config`` with CONFIG and ``storage`` (a SQLite ``path`` is made absolute in the folder)."""

    def start(children: Children) -> Server:
        stored = {**storage}
        if "path" in stored:
            stored["path"] = str(children.next_file(stored["path"]))
        config = children.next_file("tocsin.json")
        config.write_text(json.dumps({**CONFIG, "storage": stored}), encoding="utf-8")
        argv = [sys.executable, "-m", "tocsin", "serve", "--config", str(config), "--port", "0"]
        process, log = children.start("tocsin", argv)
        ready = _listening(log, r"tocsin: serving (http://127\.0\.0\.1:\d+)", health="/health")
        return Server(process, children.wait_for(process, log, ready))

    return start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_alertmanager(binary: str) -> Callable[[Children], Server]:
    """Alertmanager on a free port of 127.0.0.1: clustering off, its own storage, a receiver that sends nothing."""

    def start(children: Children) -> Server:
        config = children.next_file("alertmanager.yml")
        config.write_text(json.dumps(ALERTMANAGER_CONFIG), encoding="utf-8")  # JSON is YAML
        storage = children.next_file("alertmanager-data")
        storage.mkdir()
        url = f"http://127.0.0.1:{_free_port()}"
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        process, log = children.start("alertmanager", argv)
        return Server(process, children.wait_for(process, log, lambda: url if _answers_200(url, "/-/ready") else None))

    return start


def serve_bare() -> None:
    """The bare endpoint (run as ``service.py --serve-bare``): uvicorn as ``tocsin serve`` configures it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def accept(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"accepted": True, "title": body.get("title")}, status_code=201)

    app = Starlette(routes=[Route("/v1/incidents", accept, methods=["POST"])])
    # As tocsin.cli.serve.listen makes it (not imported: the bare row needs nothing of tocsin). The protocol
    # number matters: asyncio sets TCP_NODELAY only on sockets that say IPPROTO_TCP (else Nagle: 40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
    print(f"bare: serving http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of process ``pid`` and all its threads so far; None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name: state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load generator ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Sample:
    """One measurement: requests/s that succeeded, latency (ms), CPU per request (µs), failures."""

    rate: float
    p50: float
    p99: float
    server_us: float | None
    client_us: float
    failures: int


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000


async def _drive(
    http: aiohttp.ClientSession, shape: Shape, bodies: list[bytes], time_limit: float
) -> tuple[list[float], int, int, float]:
    """Send ``bodies`` from CONCURRENCY clients until they are all sent or ``time_limit`` passes: latencies of
    the good answers (seconds), failures, requests sent, wall seconds."""
    latencies: list[float] = []
    failures = 0
    sent = 0
    began = time.perf_counter()
    deadline = began + time_limit

    async def client() -> None:
        nonlocal failures, sent
        while sent < len(bodies) and time.perf_counter() < deadline:
            body = bodies[sent]
            sent += 1
            start = time.perf_counter()
            try:
                async with http.post(shape.path, data=body) as answer:
                    good = shape.accepts(answer.status, await answer.read())
            except (aiohttp.ClientError, TimeoutError):
                good = False
            if good:
                latencies.append(time.perf_counter() - start)
            else:
                failures += 1

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return latencies, failures, sent, time.perf_counter() - began


async def load(server: Server, shape: Shape, settings: Settings) -> Sample:
    """A warm-up, then the measured requests over the same connections, with the server's CPU around them."""
    single = shape.items == 1
    warm = settings.warmup if single else settings.warmup_batches
    count = settings.requests if single else settings.batches
    warm_bodies = [shape.body(number) for number in range(warm)]
    bodies = [shape.body(number) for number in range(warm, warm + count)]
    headers = {"Content-Type": "application/json"}
    if shape.token:
        headers["Authorization"] = f"Bearer {shape.token}"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(server.url, connector=connector, headers=headers, timeout=timeout) as http:
        await _drive(http, shape, warm_bodies, settings.time_limit)
        server_before, client_before = cpu_seconds(server.process.pid), time.process_time()
        latencies, failures, sent, seconds = await _drive(http, shape, bodies, settings.time_limit)
        server_after, client_after = cpu_seconds(server.process.pid), time.process_time()
    latencies.sort()
    server_us = None
    if server_before is not None and server_after is not None and sent:
        server_us = (server_after - server_before) / sent * 1e6
    return Sample(
        rate=len(latencies) / seconds,
        p50=_percentile(latencies, 0.5),
        p99=_percentile(latencies, 0.99),
        server_us=server_us,
        client_us=(client_after - client_before) / max(sent, 1) * 1e6,
        failures=failures,
    )


def median(samples: list[Sample]) -> Sample:
    """Each figure's median over the runs; failures add up."""
    cpu = [s.server_us for s in samples if s.server_us is not None]
    return Sample(
        rate=statistics.median(s.rate for s in samples),
        p50=statistics.median(s.p50 for s in samples),
        p99=statistics.median(s.p99 for s in samples),
        server_us=statistics.median(cpu) if cpu else None,
        client_us=statistics.median(s.client_us for s in samples),
        failures=sum(s.failures for s in samples),
    )


# --- what is measured, and against what --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Case:
    """One row: a server and the requests it gets. ``start`` is None when the server is not installed."""

    key: str
    title: str
    start: Callable[[Children], Server] | None
    shape: Shape
    tocsin: bool = True


@attrs.frozen
class Target:
    """``measured`` must be at least (or at most) ``limit``; None when it could not be measured."""

    text: str
    measured: float | None
    limit: float
    at_least: bool

    def verdict(self) -> str:
        if self.measured is None:
            return "not measured"
        if self.measured >= self.limit if self.at_least else self.measured <= self.limit:
            return "met"
        if self.measured == 0 or self.measured != self.measured:  # nothing answered
            return "missed"
        factor = self.limit / self.measured if self.at_least else self.measured / self.limit
        return f"missed by {factor:.1f}x"

    @property
    def missed(self) -> bool:
        return self.verdict().startswith("missed")


def cases() -> list[Case]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    alertmanager = start_alertmanager(binary) if binary else None
    memory = start_tocsin({"backend": "memory"})
    return [
        Case(key="bare", title="bare Starlette POST", start=start_bare, shape=BARE, tocsin=False),
        Case(key="memory", title="tocsin POST /v1/incidents, memory", start=memory, shape=INCIDENTS),
        Case(
            key="normal",
            title="tocsin POST /v1/incidents, SQLite normal",
            start=start_tocsin({"path": "normal.db", "synchronous": "normal"}),
            shape=INCIDENTS,
        ),
        Case(
            key="full",
            title="tocsin POST /v1/incidents, SQLite full",
            start=start_tocsin({"path": "full.db", "synchronous": "full"}),
            shape=INCIDENTS,
        ),
        Case(
            key="am 1",
            title="Alertmanager /api/v2/alerts, 1/req",
            start=alertmanager,
            shape=AM_SINGLE,
            tocsin=False,
        ),
        Case(
            key="am 100",
            title=f"Alertmanager /api/v2/alerts, {BATCH}/req",
            start=alertmanager,
            shape=AM_BATCH,
            tocsin=False,
        ),
        Case(key="webhook 1", title="tocsin Alertmanager webhook, 1/req", start=memory, shape=WEBHOOK_SINGLE),
        Case(key="webhook 100", title=f"tocsin Alertmanager webhook, {BATCH}/req", start=memory, shape=WEBHOOK_BATCH),
    ]


RATE_TARGETS = {"memory": 0.3, "normal": 0.15, "full": 0.1}  # x the bare endpoint's requests/s
SAME_SHAPE = {"webhook 1": "am 1", "webhook 100": "am 100"}
BATCH_CPU_TARGET = 200.0  # µs of server CPU per alert, batches of BATCH
BATCH_AM_TARGET = 1 / 3  # the batch's alerts/s over Alertmanager's
TAIL_TARGET = 3.0  # p99 over p50


def _rate(sample: Sample | None) -> float | None:
    return None if sample is None else sample.rate


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or not baseline else value / baseline


def targets(case: Case, results: dict[str, Sample]) -> list[Target]:
    sample = results.get(case.key)
    bare = results.get("bare")
    found: list[Target] = []
    if case.key in RATE_TARGETS:
        limit = RATE_TARGETS[case.key]
        found.append(Target(f">= {limit:g}x bare", _ratio(_rate(sample), _rate(bare)), limit, True))
    if case.key == "webhook 100":
        per_alert = None if sample is None or sample.server_us is None else sample.server_us / BATCH
        found.append(Target(f"<= {BATCH_CPU_TARGET:g} µs CPU/alert", per_alert, BATCH_CPU_TARGET, False))
        alertmanager = results.get(SAME_SHAPE[case.key])
        found.append(Target("within 3x of AM", _ratio(_rate(sample), _rate(alertmanager)), BATCH_AM_TARGET, True))
    if case.tocsin:
        tail = None if sample is None else _ratio(sample.p99, sample.p50)
        found.append(Target(f"p99 <= {TAIL_TARGET:g}x p50", tail, TAIL_TARGET, False))
    return found


# --- the table ---------------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _times(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.3f}x"


def table(rows: list[Case], results: dict[str, Sample]) -> tuple[list[tuple[str, ...]], bool]:
    """The lines of the table (a row's further targets on lines of their own) and whether all is well."""
    lines: list[tuple[str, ...]] = []
    well = True
    bare = results.get("bare")
    for case in rows:
        sample = results.get(case.key)
        found = targets(case, results)
        if sample is None:
            cells = ["not installed", "", "", "", "", "", "", "", ""]
        else:
            items = case.shape.items
            rate = f"{sample.rate * items:,.0f} {case.shape.unit}/s"
            cpu = "n/a" if sample.server_us is None else f"{sample.server_us:,.0f} µs/req"
            if items > 1:
                rate += f" ({sample.rate:,.0f} req/s)"
                if sample.server_us is not None:
                    cpu = f"{sample.server_us / items:,.0f} µs/alert"
            same = results.get(SAME_SHAPE.get(case.key, ""))
            cells = [
                rate,
                f"{_ms(sample.p50)} / {_ms(sample.p99)}",
                f"{sample.p99 / sample.p50:.1f}" if sample.p50 else "",
                cpu,
                f"{sample.client_us:,.0f} µs/req ({sample.client_us * sample.rate / 1e4:.0f}%)",
                str(sample.failures),
                _times(_ratio(sample.rate, _rate(bare))),
                _times(_ratio(sample.server_us, None if bare is None else bare.server_us))
                if case.key != "bare"
                else "",
                _times(_ratio(sample.rate, _rate(same))) if case.key in SAME_SHAPE else "",
            ]
            well = well and sample.failures == 0
        first = found[0] if found else None
        lines.append((case.title, *cells, first.text if first else "", first.verdict() if first else ""))
        for target in found[1:]:
            lines.append(("", "", "", "", "", "", "", "", "", "", target.text, target.verdict()))
        well = well and not any(target.missed for target in found)
    return lines, well


HEADER = (
    "measurement",
    "rate",
    "p50 / p99 ms",
    "p99/p50",
    "server CPU",
    "client CPU",
    "fails",
    "vs bare",
    "CPU vs bare",
    "vs AM",
    "target",
    "verdict",
)


def print_table(lines: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in [HEADER, *lines]) for i in range(len(HEADER))]
    right = {2, 3, 6, 7, 8, 9}  # numbers that read best aligned on the right
    for line in [HEADER, *lines]:
        cells = [cell.rjust(width) if i in right else cell.ljust(width) for i, (cell, width) in
                 enumerate(zip(line, widths, strict=True))]  # fmt: skip
        print("  ".join(cells).rstrip())
        if line is HEADER:
            print("  ".join("-" * width for width in widths))


def _file_system(folder: Path) -> str:
    """The type of the file system ``folder`` is on (tmpfs makes fsync free), from /proc/mounts."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) > 2 and str(folder).startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


# --- running it --------------------------------------------------------------------------------------------


_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupted(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _cleaned_up() -> Iterator[Children]:
    """A temporary folder and the servers started in it, both gone on any exit.

    SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt wherever the bench is (its own SIGINT handler also keeps
    asyncio's, which only cancels the running task, out of the way); while the servers are being stopped they
    are ignored, so a second Ctrl-C cannot cut the clean-up short.
    """
    previous = {sig: signal.signal(sig, _interrupted) for sig in _STOPPING}
    try:
        with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as name:
            children = Children(Path(name))
            try:
                yield children
            finally:
                for sig in _STOPPING:
                    signal.signal(sig, signal.SIG_IGN)
                children.stop_all()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(settings: Settings) -> int:
    rows = cases()
    samples: dict[str, list[Sample]] = {}
    with _cleaned_up() as children:
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
        print(
            f"{CONCURRENCY} connections from one aiohttp client; up to {settings.requests:,} requests "
            f"({settings.batches} of {BATCH} alerts) or {settings.time_limit:g} s per measurement after a warm-up "
            f"of {settings.warmup} ({settings.warmup_batches}); median of {settings.runs} run(s)\n"
            f"servers on 127.0.0.1, one process each; uvicorn loop {loop}, http {parser}; "
            f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); Python {sys.version.split()[0]}; "
            f"SQLite files on {_file_system(children.folder)}",
            flush=True,
        )
        for number in range(settings.runs):
            for case in rows:
                if case.start is None:
                    continue
                print(f"run {number + 1}/{settings.runs}: {case.title} ...", end=" ", file=sys.stderr, flush=True)
                server = case.start(children)
                try:
                    sample = asyncio.run(load(server, case.shape, settings))
                finally:
                    children.stop(server.process)
                print(f"{sample.rate * case.shape.items:,.0f} {case.shape.unit}/s", file=sys.stderr, flush=True)
                samples.setdefault(case.key, []).append(sample)
    lines, well = table(rows, {key: median(values) for key, values in samples.items()})
    print_table(lines)
    print(
        "rate: requests answered as asked, per second (alerts for the alert rows)\n"
        f"server CPU: utime + stime of the server's process per request (per alert for {BATCH}/req)\n"
        "client CPU: this process's per request, and the share of one core it kept busy (near 100%: the load "
        "generator bounds the row)\n"
        "vs bare: requests/s over the bare endpoint's; CPU vs bare: server CPU per request over the bare "
        "endpoint's (whatever bounds the client)\n"
        "vs AM: alerts/s over Alertmanager's, same alerts per request"
    )
    return 0 if well else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="measure every row N times; print medians")
    parser.add_argument("--quick", action="store_true", help="smaller counts and time limits")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)  # the bare endpoint's child
    options = parser.parse_args(argv)
    if options.serve_bare:
        serve_bare()
        return 0
    if options.runs < 1:
        parser.error("--runs: at least 1")
    settings = attrs.evolve(QUICK if options.quick else Settings(), runs=options.runs)
    try:
        return run(settings)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped, temporary files removed", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench/service.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
