"""The notification outbox in SQLite: rows keyed by idempotency key, leased claims, retries, the delivery log.

A row moves ``pending -> sending`` (a claim, with a lease) ``-> sent | failed`` (``next_attempt_at`` set)
``| dead``. Inserting a key that exists does nothing (``INSERT OR IGNORE``), so a page is written once per
key however often it is produced. Every answer is appended to ``delivery_log``; an endpoint that answered
"gone" is kept in ``disabled_endpoints``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tocsin.instants import from_micros, to_micros
from tocsin.models import DeliveryResult, Notification
from tocsin.store.documents import OutboxDocuments
from tocsin.store.limits import SQLContactLimits
from tocsin.store.sqlite.db import SQLiteDatabase

__all__ = ["SQLiteOutbox"]

_UNSETTLED = "status IN ('pending', 'sending', 'failed')"


class SQLiteOutbox(OutboxDocuments, SQLContactLimits):
    """The ``DeliveryStore`` half of :class:`tocsin.store.sqlite.store.SQLiteStore`, on an open database."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self._init_outbox()

    # --- writing -----------------------------------------------------------------------------------------

    def _insert(self, connection: sqlite3.Connection, notifications: Sequence[Notification]) -> list[Notification]:
        """Insert inside the caller's transaction; returns the notifications whose key was new."""
        dump = self.database.dump
        fresh: list[Notification] = []
        for notification in notifications:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO outbox (key, escalation_id, incident_id, channel, status, notification) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
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
                "lease_until = ? WHERE key = ? AND (status = 'pending' "
                "OR (status = 'failed' AND (? IS NULL OR next_attempt_at IS NULL OR next_attempt_at <= ?)) "
                "OR (status = 'sending' AND ? IS NOT NULL AND lease_until IS NOT NULL AND lease_until <= ?)) "
                "RETURNING attempts",
                (until, key, at, at, at, at),
            ).fetchone()
        return int(row[0]) if row is not None else None

    def finish(self, result: DeliveryResult, *, retry_at: datetime | None = None) -> None:
        """Record the answer to one attempt (see ``DeliveryStore.finish``)."""
        database = self.database
        with database.transaction() as connection:
            held = connection.execute("SELECT status, attempts FROM outbox WHERE key = ?", (result.key,)).fetchone()
            if held is None:
                raise KeyError(f"no notification with key {result.key!r} in the outbox")
            log = connection.execute(
                "INSERT INTO delivery_log (key, attempt, at, ok, result) VALUES (?, ?, ?, ?, ?)",
                (result.key, result.attempts, to_micros(result.at), int(result.ok), database.dump(result)),
            )
            status, attempts = held
            current = status == "sending" and result.attempts == attempts
            if status == "sent" or (not current and not result.ok):
                return
            if result.ok:
                values: tuple[Any, ...] = ("sent", None, None)
            elif retry_at is not None:
                values = ("failed", to_micros(retry_at), None)
            else:
                values = ("dead", None, log.lastrowid)
            connection.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, dead_seq = ?, lease_until = NULL, result = ? "
                "WHERE key = ?",
                (*values, database.dump(result), result.key),
            )

    def disable_endpoint(self, channel: str, endpoint: str, reason: str, at: datetime) -> None:
        """Remember that ``endpoint`` of ``channel`` asked for no more messages."""
        with self.database.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO disabled_endpoints (channel, endpoint, reason, at) VALUES (?, ?, ?, ?)",
                (channel, endpoint, reason, to_micros(at)),
            )

    # --- reading -----------------------------------------------------------------------------------------

    def pending(self) -> list[Notification]:
        """Notifications never handed to a channel, oldest first."""
        return self._notifications(
            f"SELECT key, notification FROM outbox WHERE {_UNSETTLED} AND status = 'pending' ORDER BY seq", ()
        )

    def due_deliveries(self, now: datetime, limit: int | None = None) -> list[Notification]:
        """Pending notifications, retries whose time has come and expired leases, oldest first."""
        at = to_micros(now)
        return self._notifications(
            f"SELECT key, notification FROM outbox WHERE {_UNSETTLED} AND (status = 'pending' "
            "OR (status = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)) "
            "OR (status = 'sending' AND lease_until IS NOT NULL AND lease_until <= ?)) ORDER BY seq LIMIT ?",
            (at, at, -1 if limit is None else limit),
        )

    def next_delivery_at(self) -> datetime | None:
        """The earliest retry time or lease end among failed and sending notifications, or summary of folded
        pages."""
        with self.database.reading() as connection:
            (value,) = connection.execute(
                "SELECT MIN(CASE WHEN status = 'failed' THEN next_attempt_at ELSE lease_until END) "
                f"FROM outbox WHERE {_UNSETTLED} AND status != 'pending'"
            ).fetchone()
            summary = self._next_summary_at(connection)
        times = [int(time) for time in (value, summary) if time is not None]
        return from_micros(min(times)) if times else None
