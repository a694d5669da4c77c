"""`tocsin serve` as a real subprocess on 127.0.0.1: started, waited for, killed with SIGKILL; and what a
webhook receiver that drops duplicates by `webhook-id` saw."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from standardwebhooks.webhooks import Webhook

from support.delivery_receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "kill-test-token-0123456789"


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
        self.env: dict[str, str] = {}  # extra environment for the next start (e.g. TOCSIN_CRASH_AT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runs += 1
        log = open(self.logs / f"serve-{self.runs}.log", "wb")  # noqa: SIM115 - closed with the process
        env = {**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONUNBUFFERED": "1", **self.env}
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
