"""Waiting out another process's lock without holding the event loop: an operation whose unit of work failed
with :class:`~tocsin.store.errors.StoreBusyError` changed nothing, so it is simply run again after a short,
jittered, asynchronous wait (other requests and deliveries go on meanwhile)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tocsin.store.errors import StoreBusyError

__all__ = ["retry_while_busy"]

T = TypeVar("T")

FIRST_WAIT, LONGEST_WAIT = 0.01, 0.25  # seconds between tries: doubling from the first to the longest


async def retry_while_busy(operation: Callable[[], Awaitable[T]], *, seconds: float) -> T:
    """What ``operation()`` returns, trying it again while it raises ``StoreBusyError``, for up to ``seconds``
    after the first such failure; the last try comes at that deadline, and its error then stands. The waits are
    jittered, so that two instances meeting each other's lock do not retry in step."""
    deadline: float | None = None
    wait = FIRST_WAIT
    while True:
        try:
            return await operation()
        except StoreBusyError:
            now = time.monotonic()
            if deadline is None:
                deadline = now + seconds
            if now >= deadline:
                raise
        await asyncio.sleep(min(wait * random.uniform(0.5, 1.0), deadline - now))
        wait = min(wait * 2, LONGEST_WAIT)
