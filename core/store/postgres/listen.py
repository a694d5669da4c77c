"""Announcements of due work between instances on one PostgreSQL database (LISTEN/NOTIFY).

A trigger on ``escalations`` (schema version 2) announces on the channel :data:`CHANNEL`, at commit, when each
open escalation becomes claimable: its next due time, or the end of the lease an instance just claimed it
under, whichever is later. Every instance listens on a connection of its own and wakes its monitor at those
times (:meth:`~tocsin.escalation.monitor.Monitor.expect`), so due work started by an instance that has since
died is claimed when it comes due (or when the dead instance's lease runs out), not at the next poll.

What was announced before an instance started listening it reads when it connects: right after ``LISTEN``, the
times the open escalations become claimable (the soonest :data:`MOST_READ`), so an instance started or restarted
after an escalation was created still wakes when it comes due. Then it asks for one claim at once, for what is
due already.

An announcement is a hint, never the truth: a claim is still one ``FOR UPDATE SKIP LOCKED`` statement against
the rows, and the poll every ``storage.claim_every_seconds`` stays as the fallback for announcements lost while
the listening connection was down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psycopg

from tocsin.logs import get_logger
from tocsin.store.documents import OPEN
from tocsin.store.postgres.db import first_line

__all__ = ["CHANNEL", "MOST_READ", "DueListener"]

CHANNEL = "tocsin_due"
MOST_READ = 10_000  # claimable times read at connection (the monitor keeps as many; the poll finds the rest)

_log = get_logger(component="store")


class DueListener:
    """Listens for due-time announcements on the database ``dsn`` and hands each to ``on_due`` (microseconds).

    :param on_due: called in the event loop with each announced time.
    :param on_connected: called after each (re)connection: announcements may have been missed meanwhile.
    :param retry_seconds: the longest wait between reconnection attempts.
    """

    def __init__(
        self,
        dsn: str,
        on_due: Callable[[int], None],
        *,
        on_connected: Callable[[], None] | None = None,
        retry_seconds: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._on_due = on_due
        self._on_connected = on_connected
        self._retry = retry_seconds
        self.connected = False
        self.received = 0  # announcements received (for /metrics)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a lost connection (waits double up to ``retry_seconds``)."""
        wait = 0.1
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, connect_timeout=5)
            except psycopg.Error as exc:
                _log.warning("cannot listen for due work; polling meanwhile", error=first_line(exc), retry_in=wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, self._retry)
                continue
            try:
                await connection.execute(f"LISTEN {CHANNEL}")
                for due in await _claimable_times(connection):  # what was announced before this connection
                    self._on_due(due)
                self.connected, wait = True, 0.1
                if self._on_connected is not None:
                    self._on_connected()
                async for notice in connection.notifies():
                    self._announced(notice.payload)
            except psycopg.Error as exc:
                _log.warning("lost the connection listening for due work; reconnecting", error=first_line(exc))
            finally:
                self.connected = False
                with contextlib.suppress(psycopg.Error):
                    await connection.close()
            await asyncio.sleep(wait)

    def _announced(self, payload: str) -> None:
        try:
            due = int(payload)
        except ValueError:  # not ours (someone else NOTIFYs on the channel): nothing to do
            return
        self.received += 1
        self._on_due(due)


async def _claimable_times(connection: psycopg.AsyncConnection[Any]) -> list[int]:
    """When each open escalation becomes claimable (as the trigger announces it), soonest first; none before the
    schema exists (an instance may listen before the first one migrates it)."""
    exists = await (await connection.execute("SELECT to_regclass('escalations') IS NOT NULL")).fetchone()
    if not exists or not exists[0]:
        return []
    cursor = await connection.execute(
        "SELECT DISTINCT GREATEST(next_due, COALESCE(lease_until, 0)) AS claimable FROM escalations "
        f"WHERE {OPEN} AND next_due IS NOT NULL ORDER BY claimable LIMIT %s",
        (MOST_READ,),
    )
    return [int(due) for (due,) in await cursor.fetchall()]
