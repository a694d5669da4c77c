"""Serve an app from a background thread: for embedding the API in a program that has its own main loop, and
for tests and benchmarks that drive a real server over loopback.

```python
with BackgroundServer(create_app(config, plugins)) as server:
    print(server.url)                     # http://127.0.0.1:<a free port>
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from starlette.applications import Starlette

__all__ = ["BackgroundServer"]

T = TypeVar("T")


class BackgroundServer:
    """uvicorn serving ``app`` on ``host:port`` (port 0: a free one) in a thread with its own event loop.

    The app's lifespan (the escalation timer, the outbox) runs in that loop. :meth:`call` runs a function
    there, so the engine is only ever touched from one thread.
    """

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 30.0):
        self.app = app
        self._socket = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )  # asyncio sets TCP_NODELAY only then
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"tocsin-server-{self.port}", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=[self._socket])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start() and stop()
            self._failure = exc

    def start(self) -> None:
        """Start serving; returns once the app's startup finished (``RuntimeError`` when it failed)."""
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                raise RuntimeError(f"the server did not start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {self._start_timeout:g} seconds")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop gracefully (requests and deliveries in flight finish) and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=60)
        self._socket.close()
        if self._failure is not None:
            raise RuntimeError(f"the server failed: {self._failure!r}")

    def call(self, function: Callable[[], T], *, timeout: float = 30.0) -> T:
        """Run ``function()`` in the server's event loop and return what it returns (or raise what it raises)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the server is not running")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(function())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result(timeout=timeout)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
