"""A real Prometheus Alertmanager, configured with the docs' webhook receiver, talking to a real ``tocsin serve``.

Alerts are posted to Alertmanager's own API (/api/v2/alerts). Alertmanager groups them and POSTs its webhook
to tocsin; tocsin opens one incident per alert and pages the policy's webhook target, a receiver of this test.
Alertmanager re-sends the firing alerts (repeat_interval) and tocsin counts repeats. Then the alerts are
posted again with ``endsAt`` in the past; Alertmanager sends them resolved and tocsin resolves the incidents
and their escalations. Everything listens on 127.0.0.1; timings are shortened so the test takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml
from support.delivery_receiver import Receiver
from support.docs import ROOT

EXAMPLES = ROOT / "examples" / "integrations"
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
TOKEN = "prometheus-token-0123456789abcdef"
API_TOKEN = "read-token-0123456789abcdef"
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="Prometheus Alertmanager is not installed (CI installs Debian's prometheus-alertmanager package)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alertmanager_config(tocsin_port: int, token_file: Path) -> dict[str, Any]:
    """The docs' alertmanager.yml, pointed at this test's tocsin, with timings shortened to seconds."""
    text = (EXAMPLES / "alertmanager.yml").read_text(encoding="utf-8")
    text = text.replace("tocsin.example.internal:8080", f"127.0.0.1:{tocsin_port}")
    text = text.replace("/etc/alertmanager/tocsin-token", str(token_file))
    config = yaml.safe_load(text)
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="2s")
    return config


def tocsin_config(pages_url: str, database: Path) -> dict[str, Any]:
    """A service with the docs' ``prometheus`` integration and a policy that pages a webhook."""
    integrations = yaml.safe_load((EXAMPLES / "tocsin-integrations.yaml").read_text(encoding="utf-8"))
    return {
        "server": {"host": "127.0.0.1", "tokens": [{"name": "test", "token": API_TOKEN, "scopes": ["read"]}]},
        "storage": {"path": str(database)},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 5}},
        "policies": [
            {
                "id": "infra",
                "levels": [
                    {"targets": [{"type": "webhook", "url": pages_url}]},
                    {"delay_minutes": 30, "targets": [{"type": "webhook", "url": pages_url + "-lead"}]},
                ],
            }
        ],
        "integrations": {"prometheus": integrations["integrations"]["prometheus"]},
    }


async def eventually(what: str, check: Callable[[], Any], *, within: float = 30.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something true; fail naming ``what`` after ``within``."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g}s (last: {value!r})")
        await asyncio.sleep(0.1)


class Processes:
    """Child processes with their logs in files; stopped (SIGTERM, then kill) at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Path:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.directory)
        self.running.append((name, process))
        return log

    def check_alive(self) -> None:
        for name, process in self.running:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}" for path in self.directory.glob("*.log")
        )

    def stop(self) -> None:
        for _, process in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


@pytest.fixture
async def receiver():
    running = Receiver()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def processes(tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop()


async def start_tocsin(processes: Processes, tmp_path: Path, pages_url: str) -> str:
    config = tmp_path / "tocsin.yaml"
    config.write_text(yaml.safe_dump(tocsin_config(pages_url, tmp_path / "tocsin.db")), encoding="utf-8")
    env = {**os.environ, "TOCSIN_PROMETHEUS_TOKEN": TOKEN, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "tocsin", "serve", "--config", str(config), "--port", "0"]
    log = processes.start("tocsin", argv, env)

    def address() -> str | None:
        processes.check_alive()
        found = re.search(r"tocsin: serving (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        return found.group(1) if found else None

    return await eventually("tocsin serve to listen", address)


async def start_alertmanager(processes: Processes, tmp_path: Path, tocsin_url: str) -> str:
    token_file = tmp_path / "tocsin-token"
    token_file.write_text(TOKEN, encoding="utf-8")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(int(tocsin_url.rsplit(":", 1)[1]), token_file)))
    storage = tmp_path / "alertmanager-data"
    storage.mkdir()
    assert BINARY is not None
    argv = [
        BINARY,
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--storage.path={storage}",
    ]
    processes.start("alertmanager", argv, {**os.environ})
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        processes.check_alive()
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/-/ready") as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False

    await eventually("Alertmanager to be ready", ready)
    return url


def alert(instance: str, severity: str, *, ends_at: datetime | None = None) -> dict[str, Any]:
    posted: dict[str, Any] = {
        "labels": {"alertname": "TocsinEndToEnd", "instance": instance, "job": "node", "severity": severity},
        "annotations": {"summary": f"Disk almost full on {instance}", "description": "Less than 5% left"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=disk_free",
    }
    if ends_at is not None:
        posted["endsAt"] = ends_at.isoformat()
    return posted


async def test_a_real_alertmanager_opens_pages_and_resolves_incidents(tmp_path, processes, receiver):
    session = aiohttp.ClientSession()
    try:
        tocsin_url = await start_tocsin(processes, tmp_path, receiver.url("/pages"))
        am_url = await start_alertmanager(processes, tmp_path, tocsin_url)
        api = {"Authorization": f"Bearer {API_TOKEN}"}

        async def get(url: str, headers: dict[str, str] | None = None) -> Any:
            async with session.get(url, headers=headers) as answer:
                assert answer.status == 200, await answer.text()
                return await answer.json()

        async def post_alerts(alerts: list[dict[str, Any]]) -> None:
            async with session.post(f"{am_url}/api/v2/alerts", json=alerts) as answer:
                assert answer.status == 200, await answer.text()

        async def incidents() -> list[dict[str, Any]]:
            return (await get(f"{tocsin_url}/v1/incidents?limit=10", api))["incidents"]

        async def detail(incident_id: str) -> dict[str, Any]:
            return await get(f"{tocsin_url}/v1/incidents/{incident_id}", api)

        firing = [alert("db-1:9100", "critical"), alert("db-2:9100", "warning")]
        await post_alerts(firing)

        async def two_incidents() -> list[dict[str, Any]] | None:
            processes.check_alive()
            found = await incidents()
            return found if len(found) == 2 else None

        opened = {i["labels"]["instance"]: i for i in await eventually("two incidents in tocsin", two_incidents)}
        fingerprints = {a["labels"]["instance"]: a["fingerprint"] for a in await get(f"{am_url}/api/v2/alerts")}
        for instance, severity, tocsin_severity in (("db-1:9100", "critical", "P1"), ("db-2:9100", "warning", "P3")):
            incident = opened[instance]
            assert incident["title"] == f"Disk almost full on {instance}"
            assert incident["description"] == "Less than 5% left"
            assert incident["severity"] == tocsin_severity
            assert incident["incident_type"] == "Infrastructure"
            assert incident["source"] == "prometheus"
            assert incident["state"] == "Detected"
            assert incident["dedup_key"] == f"prometheus/{fingerprints[instance]}"
            assert incident["labels"] == {
                "alertname": "TocsinEndToEnd",
                "instance": instance,
                "job": "node",
                "severity": severity,
            }
            assert incident["payload"]["alert"]["generatorURL"].startswith("http://prometheus.example.com:9090/")

        # The policy's first level pages the webhook once per incident.
        pages = await eventually(
            "two pages at the receiver", lambda: len(receiver.on("/pages")) >= 2 and receiver.on("/pages")
        )
        paged = sorted(json.loads(page.body)["incident"]["id"] for page in pages)
        assert paged == sorted(i["id"] for i in opened.values())

        # Alertmanager re-sends the firing alerts every repeat_interval: repeats are counted, nothing new opens.
        async def repeated() -> bool:
            return all([(await detail(i["id"]))["duplicates"] >= 1 for i in opened.values()])

        await eventually("Alertmanager's re-sends to be counted as repeats", repeated)
        assert len(await incidents()) == 2

        # Resolving in Alertmanager resolves the incidents and their escalations.
        past = datetime.now(UTC) - timedelta(seconds=5)
        await post_alerts([alert("db-1:9100", "critical", ends_at=past), alert("db-2:9100", "warning", ends_at=past)])

        async def resolved() -> bool:
            details = [await detail(i["id"]) for i in opened.values()]
            return all(
                d["incident"]["state"] == "Resolved" and d["escalation"]["status"] == "resolved" for d in details
            )

        await eventually("both incidents resolved", resolved)
        for incident in opened.values():
            escalation = (await detail(incident["id"]))["escalation"]
            assert escalation["events"][-1]["by"] == "integration:prometheus"
        assert len(await incidents()) == 2
        assert len(receiver.on("/pages")) == 2  # one page per incident: re-sends paged nobody again
        assert receiver.on("/pages-lead") == []
    except BaseException:
        print(processes.logs())
        raise
    finally:
        await session.close()
