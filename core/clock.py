"""Clocks: the engine asks one of these for "now", so the same code runs in real and virtual time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """Virtual time that moves only when told to: for simulations and tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware start time, got {start.isoformat()}")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The current virtual instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant``; time never runs backwards."""
        if instant.tzinfo is None:
            raise ValueError(f"ManualClock.set needs an aware time, got {instant.isoformat()}")
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError(f"time cannot run backwards: {instant.isoformat()} < {self._now.isoformat()}")
        self._now = instant

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**parts)`` (e.g. ``minutes=5``); returns the new now."""
        step = delta if delta is not None else timedelta(**parts)
        self.set(self._now + step)
        return self._now
