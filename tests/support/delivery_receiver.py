"""Test helpers for webhook delivery: a scripted receiver on 127.0.0.1, a stub resolver and a connection spy."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Any

import attrs
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted answer: a status and headers; ``hold`` makes the handler wait until the receiver is stopped."""

    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    hold: bool = False


@attrs.frozen(kw_only=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    peer: Any = None  # the client's (address, port): one per connection


class Receiver:
    """An aiohttp server on 127.0.0.1 answering each path from its script (then 200), recording every request."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.requests: list[Received] = []
        self.released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def script(self, path: str, *replies: Reply) -> str:
        """Answer requests to ``path`` with ``replies`` in order; returns the full URL."""
        self.scripts[path] = list(replies)
        return self.url(path)

    def url(self, path: str) -> str:
        """The URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        """The requests received on ``path``."""
        return [request for request in self.requests if request.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.requests.append(Received(path=request.path, headers=dict(request.headers), body=body, peer=peer))
        queue = self.scripts.get(request.path, [])
        reply = queue.pop(0) if queue else Reply()
        if reply.hold:
            await self.released.wait()
        return web.Response(status=reply.status, headers=reply.headers)

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release held handlers and shut down."""
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()


class StubResolver(AbstractResolver):
    """A resolver answering from a table (name -> addresses); unknown names fail like NXDOMAIN. No DNS traffic."""

    def __init__(self, table: dict[str, Iterable[str]]) -> None:
        self.table = {name: list(addresses) for name, addresses in table.items()}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(socket.EAI_NONAME, f"stub resolver: unknown host {host}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


class ConnectionSpy:
    """Replaces the event loop's ``sock_connect``: loopback connects go through; anything else is recorded and
    refused, so a test can show nothing was ever sent elsewhere."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.dialled: list[Any] = []
        self.outside: list[Any] = []
        self._connect = loop.sock_connect

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        self.dialled.append(address)
        if not ip_address(str(address[0]).split("%")[0]).is_loopback:
            self.outside.append(address)
            raise ConnectionRefusedError(f"test spy: refusing to dial {address[0]}")
        await self._connect(sock, address)
