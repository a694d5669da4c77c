"""uvicorn's server as ``tocsin serve`` runs it; imported only by that command (uvicorn is not light)."""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
from collections.abc import Iterator
from types import FrameType

import uvicorn

__all__ = ["GracefulServer"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, stopping gracefully on SIGINT/SIGTERM without re-raising the signal afterwards, and
    leaving what it made while starting out of the garbage collector's scans."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving (the app's lifespan has run: the config is compiled, the store's open escalations
        indexed); then freeze what exists. Those objects live as long as the process, and the collector would
        otherwise walk all of them again and again while requests run (a fifth of the CPU of a batch of
        alerts, bench/service.py). A request makes hundreds of objects that reference counting frees at once;
        the youngest generation is collected after 7,000 new ones instead of 700, ten times less often."""
        await super().startup(sockets=sockets)
        gc.freeze()
        gc.set_threshold(7_000, *gc.get_threshold()[1:])

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Turn SIGINT and SIGTERM into a graceful stop (a second SIGINT forces it) while serving."""
        previous = {sig: signal.signal(sig, self._stop) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True
