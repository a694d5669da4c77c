"""A real server on 127.0.0.1 (memory or a SQLite file on disk) on a manual clock, and a client for it that
answers ``(status, json)``; the same file served again is a restart."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

import tocsin
from support.server import ADMIN, START, ServerThread, bearer, load
from tocsin.server import create_app, memory_storage, sqlite_storage

P1 = {"title": "High CPU", "severity": "P1", "source": "monitoring"}


class Api:
    """A running server and a client session."""

    def __init__(self, server: ServerThread, http: aiohttp.ClientSession, clock: tocsin.ManualClock) -> None:
        self.server = server
        self.http = http
        self.clock = clock
        self.service = server.service

    async def call(self, method: str, path: str, token: str | None = ADMIN, **options: Any) -> tuple[int, Any]:
        headers = {**(bearer(token) if token else {}), **options.pop("headers", {})}
        async with self.http.request(method, path, headers=headers, **options) as answer:
            text = await answer.text()
            is_json = answer.content_type == "application/json"
            return answer.status, json.loads(text) if is_json else text

    async def ok(self, method: str, path: str, token: str | None = ADMIN, **options: Any) -> Any:
        """The JSON answer of a request that must succeed (2xx)."""
        status, body = await self.call(method, path, token, **options)
        assert 200 <= status < 300, (status, body)
        return body

    async def raise_incident(self, **fields: Any) -> dict[str, Any]:
        return await self.ok("POST", "/v1/incidents", json={**P1, **fields})

    def advance(self, **delta: float) -> None:
        """Move the manual clock in the server's loop and let the timer fire what came due."""
        self.server.advance(self.clock, **delta)

    def paged(self, incident_id: str) -> list[tuple[int, str]]:
        """(level, recipient) of every page of the incident's escalations, in the order written."""
        engine = self.service.engine
        state = self.server.call(lambda: engine.get_escalation_state(incident_id))
        if state is None:
            return []
        return [(d.notification.level, d.notification.recipient.address) for d in state.deliveries]


@contextlib.asynccontextmanager
async def running(
    document: str | dict[str, Any],
    *,
    db: Path | None = None,
    clock: tocsin.ManualClock | None = None,
    plugins: tocsin.Plugins | None = None,
    **options: Any,
) -> AsyncIterator[Api]:
    """Serve ``document`` on a real server: in memory, or on the SQLite file ``db`` (serving the same file again
    is a restart). ``options`` go to ``create_app`` (``config_source``, …)."""
    plugins = plugins if plugins is not None else tocsin.load_plugins()
    clock = clock if clock is not None else tocsin.ManualClock(START)
    storage = sqlite_storage(str(db), plugins.registry, clock) if db is not None else memory_storage(clock)
    app = create_app(load(document, plugins), plugins, storage=storage, clock=clock, **options)
    try:
        with ServerThread(app) as server:
            async with aiohttp.ClientSession(server.url) as http:
                yield Api(server, http, clock)
    finally:
        if db is not None:
            storage.close()
