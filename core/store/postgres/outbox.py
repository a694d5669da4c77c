"""The notification outbox in PostgreSQL: rows keyed by idempotency key, leased claims, retries, the delivery log.

The same states as the SQLite outbox (``pending -> sending -> sent | failed | dead``). Inserting a key that
exists does nothing (``ON CONFLICT (key) DO NOTHING``), so a page is written once per key however many
instances produce it; a claim is one ``UPDATE ... RETURNING`` on the row, so of two instances claiming a key
at once exactly one gets the attempt while the lease runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from tocsin.instants import from_micros, to_micros
from tocsin.models import DeliveryResult, Notification
from tocsin.store.documents import OutboxDocuments
from tocsin.store.limits import SQLContactLimits
from tocsin.store.postgres.db import PostgresDatabase

__all__ = ["PostgresOutbox"]

_UNSETTLED = "status IN ('pending', 'sending', 'failed')"


class PostgresOutbox(OutboxDocuments, SQLContactLimits):
    """The ``DeliveryStore`` half of :class:`tocsin.store.postgres.store.PostgresStore`, on an open database."""

    MARK = "%s"

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database
        self._init_outbox()

    # --- writing -----------------------------------------------------------------------------------------

    def _insert(self, connection: psycopg.Connection[Any], notifications: Sequence[Notification]) -> list[Notification]:
        """Insert inside the caller's transaction; returns the notifications whose key was new."""
        dump = self.database.dump
        fresh: list[Notification] = []
        for notification in notifications:
            cursor = connection.execute(
                "INSERT INTO outbox (key, escalation_id, incident_id, channel, status, notification) "
                "VALUES (%s, %s, %s, %s, 'pending', %s) ON CONFLICT (key) DO NOTHING",
                (
                    notification.key,
                    notification.escalation_id,
                    notification.incident_id,
                    notification.recipient.channel,
                    dump(notification),
                ),
            )
            if cursor.rowcount:
                fresh.append(notification)
        for notification in fresh:
            self._remember(notification)
        return fresh

    def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert notifications that belong to no escalation; returns the new ones."""
        with self.database.transaction() as connection:
            return self._insert(connection, notifications)

    def claim(self, key: str, *, now: datetime | None = None, lease_seconds: float | None = None) -> int | None:
        """Take ``key`` for one attempt; returns the attempt number, or None (see ``DeliveryStore.claim``)."""
        at = to_micros(now) if now is not None else None
        until = to_micros(now + timedelta(seconds=lease_seconds)) if now is not None and lease_seconds else None
        with self.database.transaction() as connection:
            row = connection.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = NULL, "
                "lease_until = %(until)s WHERE key = %(key)s AND (status = 'pending' "
                "OR (status = 'failed' AND (%(at)s::bigint IS NULL OR next_attempt_at IS NULL "
                "OR next_attempt_at <= %(at)s)) "
                "OR (status = 'sending' AND %(at)s::bigint IS NOT NULL AND lease_until IS NOT NULL "
                "AND lease_until <= %(at)s)) RETURNING attempts",
                {"until": until, "key": key, "at": at},
            ).fetchone()
        return int(row[0]) if row is not None else None

    def finish(self, result: DeliveryResult, *, retry_at: datetime | None = None) -> None:
        """Record the answer to one attempt (see ``DeliveryStore.finish``)."""
        database = self.database
        with database.transaction() as connection:
            held = connection.execute(
                "SELECT status, attempts FROM outbox WHERE key = %s FOR UPDATE", (result.key,)
            ).fetchone()
            if held is None:
                raise KeyError(f"no notification with key {result.key!r} in the outbox")
            (log_seq,) = connection.execute(
                "INSERT INTO delivery_log (key, attempt, at, ok, result) VALUES (%s, %s, %s, %s, %s) RETURNING seq",
                (result.key, result.attempts, to_micros(result.at), result.ok, database.dump(result)),
            ).fetchone() or (None,)
            status, attempts = held
            current = status == "sending" and result.attempts == attempts
            if status == "sent" or (not current and not result.ok):
                return
            if result.ok:
                values: tuple[Any, ...] = ("sent", None, None)
            elif retry_at is not None:
                values = ("failed", to_micros(retry_at), None)
            else:
                values = ("dead", None, log_seq)
            connection.execute(
                "UPDATE outbox SET status = %s, next_attempt_at = %s, dead_seq = %s, lease_until = NULL, "
                "result = %s WHERE key = %s",
                (*values, database.dump(result), result.key),
            )

    def disable_endpoint(self, channel: str, endpoint: str, reason: str, at: datetime) -> None:
        """Remember that ``endpoint`` of ``channel`` asked for no more messages."""
        with self.database.transaction() as connection:
            connection.execute(
                "INSERT INTO disabled_endpoints (channel, endpoint, reason, at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (channel, endpoint) DO NOTHING",
                (channel, endpoint, reason, to_micros(at)),
            )

    # --- reading -----------------------------------------------------------------------------------------

    def pending(self) -> list[Notification]:
        """Notifications never handed to a channel, oldest first."""
        return self._notifications("SELECT key, notification FROM outbox WHERE status = 'pending' ORDER BY seq", ())

    def due_deliveries(self, now: datetime, limit: int | None = None) -> list[Notification]:
        """Pending notifications, retries whose time has come and expired leases, oldest first."""
        at = to_micros(now)
        return self._notifications(
            f"SELECT key, notification FROM outbox WHERE {_UNSETTLED} AND (status = 'pending' "
            "OR (status = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= %s)) "
            "OR (status = 'sending' AND lease_until IS NOT NULL AND lease_until <= %s)) ORDER BY seq LIMIT %s",
            (at, at, limit),
        )

    def next_delivery_at(self) -> datetime | None:
        """The earliest retry time or lease end among failed and sending notifications, or summary of folded
        pages."""
        with self.database.reading() as connection:
            row = connection.execute(
                "SELECT MIN(CASE WHEN status = 'failed' THEN next_attempt_at ELSE lease_until END) "
                f"FROM outbox WHERE {_UNSETTLED} AND status != 'pending'"
            ).fetchone()
            summary = self._next_summary_at(connection)
        value = row[0] if row is not None else None
        times = [int(time) for time in (value, summary) if time is not None]
        return from_micros(min(times)) if times else None
