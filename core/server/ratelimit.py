"""A sliding-window rate limit per key (the acknowledgement limit per incident), on the service's clock."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from tocsin.clock import Clock

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``limit`` hits per key in any ``window``; a refused hit is not counted.

    Keys whose hits have all left the window are forgotten once more than ``max_keys`` are held, so the
    memory it takes follows the recent traffic, not every key ever seen.
    """

    def __init__(self, limit: int, *, clock: Clock, window: timedelta = timedelta(minutes=1), max_keys: int = 10_000):
        self._limit = limit
        self._clock = clock
        self._window = window
        self._max_keys = max_keys
        self._hits: dict[str, deque[datetime]] = {}

    def hit(self, key: str) -> float | None:
        """Count one hit on ``key``; None when allowed, else the seconds until the next one would be."""
        now = self._clock.now()
        horizon = now - self._window
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget(horizon)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= self._limit:
            return max(1.0, math.ceil((hits[0] - horizon).total_seconds()))
        hits.append(now)
        return None

    def take_back(self, key: str) -> None:
        """Forget the latest hit on ``key`` (the request it counted did nothing, and may be tried again)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def _forget(self, horizon: datetime) -> None:
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= horizon]:
            del self._hits[key]
