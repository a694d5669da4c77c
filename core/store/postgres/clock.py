"""The database's clock, as every instance on it reads it: what "now" is when several instances share one
PostgreSQL database.

Instances' own clocks may disagree by seconds (a host whose NTP is off); due times, leases and retry times
are then judged differently by each. :class:`DatabaseClock` answers "now" as the database server's clock does:
it measures how far the server's ``clock_timestamp()`` is from the local clock (half the round trip taken
off), keeps that offset, and measures again every ``refresh_seconds``. Between measurements it costs what the
local clock costs. When the server cannot be read it keeps the offset it last measured (none at first: the
local clock).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from tocsin.clock import Clock, SystemClock
from tocsin.logs import get_logger
from tocsin.store.errors import StoreError
from tocsin.store.postgres.db import PostgresDatabase

__all__ = ["DatabaseClock"]

_log = get_logger(component="store")


class DatabaseClock:
    """ "Now" by the database server's clock (see the module's docs).

    :param database: the database whose clock counts.
    :param local: the clock the offset is added to (default: the system clock).
    :param refresh_seconds: how often the offset is measured again.
    """

    def __init__(
        self, database: PostgresDatabase, *, local: Clock | None = None, refresh_seconds: float = 30.0
    ) -> None:
        self._database = database
        self._local: Clock = local if local is not None else SystemClock()
        self._refresh = refresh_seconds
        self._offset = timedelta(0)
        self._measured_at: float | None = None  # time.monotonic() of the last attempt
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """How far the database's clock is ahead of the local one (negative: behind), as last measured."""
        return self._offset

    def now(self) -> datetime:
        """The current instant by the database's clock, aware, in UTC."""
        measured = self._measured_at
        if measured is None or time.monotonic() - measured >= self._refresh:
            self.measure()
        return self._local.now() + self._offset

    def measure(self) -> timedelta:
        """Measure the offset now; returns it (the previous one when the database cannot be read)."""
        with self._lock:
            self._measured_at = time.monotonic()
            try:
                with self._database.reading() as connection:
                    before = self._local.now()
                    row = connection.execute("SELECT clock_timestamp()").fetchone()
                    after = self._local.now()
            except StoreError as exc:
                _log.warning("cannot read the database's clock; keeping the last offset", error=str(exc))
                return self._offset
            if row is not None:
                self._offset = row[0] - (before + (after - before) / 2)
            return self._offset
