"""`kill -9` for real: `tocsin serve` runs as a subprocess on a SQLite file and pages a webhook receiver on
127.0.0.1; the test kills it while a webhook is in flight and again between two levels, restarts it each time,
and checks on the receiver's side (deduplicating by `webhook-id`, as the Standard Webhooks spec asks receivers
to) that every expected page arrived exactly once and none went missing.

It runs in real time: levels are whole minutes apart, so the test takes a little over a minute. (A level that
fires less than a minute after its due time is not marked ``late``; the test checks its ``fired_at`` instead.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from standardwebhooks.webhooks import Webhook
from support.delivery_receiver import Receiver, Reply

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "kill-test-token-0123456789"
LEVEL_GAP = 60.0  # seconds between level 0 and level 1 (delay_minutes: 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """`tocsin serve --config X` as a subprocess: started, waited for, killed with SIGKILL."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runs += 1
        log = open(self.logs / f"serve-{self.runs}.log", "wb")  # noqa: SIM115 - closed with the process
        env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONUNBUFFERED": "1"}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tocsin", "serve", "--config", str(self.config), "--port", str(self.port),
            stdout=log, stderr=log, env=env,
        )  # fmt: skip
        log.close()
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                if self.process.returncode is not None:
                    raise AssertionError(f"tocsin serve exited with {self.process.returncode}:\n{self.log()}")
                try:
                    async with session.get(f"{self.url}/health") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"tocsin serve did not come up:\n{self.log()}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is flushed."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def post(self, path: str, body: dict) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}{path}", json=body, headers=headers) as answer,
        ):
            assert answer.status in (200, 201), await answer.text()
            return await answer.json()

    async def get(self, path: str) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}{path}", headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("serve-*.log")))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    """Services started by the test, killed at the end whatever happened."""
    started: list[Service] = []
    yield started
    for service in started:
        await service.kill()


async def until(condition, what: str, service: Service, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; server log:\n{service.log()}")
        await asyncio.sleep(0.05)


def distinct_pages(receiver: Receiver, path: str) -> dict[str, dict]:
    """The requests on ``path`` as a receiver that drops duplicates sees them: webhook-id -> payload, each one
    checked to be genuinely signed."""
    pages: dict[str, dict] = {}
    for request in receiver.on(path):
        payload = Webhook(SECRET).verify(request.body, request.headers)
        pages.setdefault(request.headers["webhook-id"], payload)
    return pages


async def test_kill_9_while_a_webhook_is_in_flight_and_between_levels_loses_and_repeats_nothing(
    receiver, services, tmp_path
):
    level0 = receiver.script("/level0", Reply(hold=True))  # the first attempt never gets an answer
    level1 = receiver.script("/level1")
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"path": str(tmp_path / "tocsin.db")},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        "delivery": {"timeout_seconds": 2, "lease_seconds": 3, "base_seconds": 1, "cap_seconds": 2},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": 0, "targets": [{"type": "webhook", "url": level0}]},
                    {"delay_minutes": 1, "targets": [{"type": "webhook", "url": level1}]},
                ],
            }
        ],
    }
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    service = Service(path, tmp_path)
    services.append(service)
    loop = asyncio.get_running_loop()

    await service.start()
    created = await service.post("/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"})
    raised_at = loop.time()
    assert created["policy_id"] == "pager"
    await until(lambda: len(receiver.on("/level0")) == 1, "level 0's first attempt", service)
    await service.kill()  # 1: killed while the level-0 webhook is in flight (the receiver holds it open)

    await service.start()  # the claim's lease runs out, and level 0 is sent again under the same webhook-id
    await until(lambda: len(receiver.on("/level0")) == 2, "level 0 sent again after the restart", service)
    state = await _escalation_when(service, lambda s: s["deliveries"][0]["status"] == "sent")
    assert state["deliveries"][0]["attempts"] == 2
    await service.kill()  # 2: killed between level 0 and level 1

    remaining = LEVEL_GAP + 2 - (loop.time() - raised_at)
    await asyncio.sleep(max(remaining, 0))  # down while level 1 comes due
    assert receiver.on("/level1") == []
    await service.start()  # level 1 fires once, late
    await until(lambda: len(receiver.on("/level1")) == 1, "level 1 after the restart", service)
    state = await _escalation_when(service, lambda s: [d["status"] for d in s["deliveries"]] == ["sent", "sent"])
    await service.kill()  # 3: killed after everything was delivered

    await service.start()  # nothing is due and nothing delivered goes out again
    await asyncio.sleep(1.5)
    final = await service.get("/v1/escalations/inc-1")
    await service.kill()

    first, second = distinct_pages(receiver, "/level0"), distinct_pages(receiver, "/level1")
    assert len(first) == 1 and len(second) == 1  # exactly once each, as deduplicated by webhook-id
    ((_, page0),) = first.items()
    ((_, page1),) = second.items()
    assert (page0["level"], page0["incident"]["id"], page1["level"], page1["incident"]["id"]) == (
        0,
        "inc-1",
        1,
        "inc-1",
    )
    due0, due1 = datetime.fromisoformat(page0["due_at"]), datetime.fromisoformat(page1["due_at"])
    assert due1 - due0 == timedelta(minutes=1)  # the schedule kept its anchor through both restarts
    assert datetime.fromisoformat(page1["fired_at"]) > due1  # it came due while the server was down
    assert len(receiver.on("/level0")) == 2 and len(receiver.on("/level1")) == 1  # the in-flight one, resent once
    assert [d["status"] for d in final["deliveries"]] == ["sent", "sent"]
    assert final["status"] == "completed"
    assert [e["level"] for e in final["events"] if e["kind"] == "level_fired"] == [0, 1]  # each level once


async def _escalation_when(service: Service, condition) -> dict:
    for _ in range(400):
        state = await service.get("/v1/escalations/inc-1")
        if condition(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the escalation never reached the expected state: {json.dumps(state)[:2000]}")
