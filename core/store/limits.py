"""Rate limits per contact and one-time credentials, as the SQL stores keep them (SQLite and PostgreSQL share this).

Tables (see the schema migrations): ``contact_sends`` (what each contact was sent, for the sliding window),
``folds`` (pages a rate limit held back, until a summary carries them) and ``used_once`` (one-time credentials
that changed something: action links, signed requests). Every method is one transaction; on PostgreSQL a
contact's rows are serialized with an advisory lock, so instances sharing the database share its window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tocsin.instants import MICROS_PER_SECOND, from_micros, to_micros
from tocsin.models import DeliveryResult, EscalationEvent, Notification

__all__ = ["SETTLED", "SQLContactLimits", "fold_detail", "fold_event", "slot_frees_at"]

# The summary key of folded pages settled without a summary (every one's incident was resolved meanwhile).
SETTLED = "settled: nothing left to send"

_PURGE_EVERY = 64  # one-time keys past their expiry are deleted on every this many-th use


def fold_detail(channel: str, limit: int, window_seconds: float, release_at: datetime) -> str:
    """Why a page was folded, as its delivery result and journal entry say it."""
    return (
        f"held back by the {channel} rate limit ({limit} per {window_seconds / 60:g} min to one contact): "
        f"folded into the summary due {release_at.isoformat()}"
    )


def fold_event(notification: Notification, detail: str, at: datetime) -> EscalationEvent:
    """The ``rate_limited`` journal entry of a folded page."""
    return EscalationEvent(
        at=at,
        kind="rate_limited",
        pass_number=notification.pass_number,
        level=notification.level if notification.level >= 0 else None,
        detail=f"page to {notification.recipient.address}: {detail}",
    )


def slot_frees_at(sent: list[int], limit: int, window: int) -> int | None:
    """When the next slot frees, given the instants ``sent`` (oldest first) within the window: None when one is
    free now."""
    if len(sent) < limit:
        return None
    return sent[len(sent) - limit] + window


class SQLContactLimits:
    """The rate-limit and one-time-credential half of a SQL store. The host provides ``database``, ``MARK``,
    ``_insert(connection, notifications)`` and ``_notification(key, text)`` (the outbox's)."""

    MARK = "?"
    database: Any
    _insert: Callable[..., list[Notification]]
    _notification: Callable[[str, str], Notification]
    _once_uses = 0

    def use_once(self, key: str, *, at: datetime, expires_at: datetime) -> datetime | None:
        """Record the first use of ``key``; None then, else when it was first used (see ``EscalationStore``)."""
        m = self.MARK
        with self.database.transaction() as connection:
            inserted = connection.execute(
                f"INSERT INTO used_once (key, used_at, expires_at) VALUES ({m}, {m}, {m}) ON CONFLICT (key) DO NOTHING",
                (key, to_micros(at), to_micros(expires_at)),
            ).rowcount
            if not inserted:
                (used,) = connection.execute(f"SELECT used_at FROM used_once WHERE key = {m}", (key,)).fetchone()
                return from_micros(int(used))
            self._once_uses += 1
            if self._once_uses % _PURGE_EVERY == 0:
                connection.execute(f"DELETE FROM used_once WHERE expires_at < {m}", (to_micros(at),))
        return None

    def take_slot(
        self, notification: Notification, endpoint: str, *, now: datetime, limit: int, window_seconds: float
    ) -> datetime | None:
        """Record the send, or fold the notification and return when its summary may go (see ``DeliveryStore``)."""
        m = self.MARK
        channel = notification.recipient.channel
        at = to_micros(now)
        database = self.database
        with database.transaction() as connection:
            database.serialize_on("contact", f"{channel} {endpoint}")
            if connection.execute(
                f"SELECT 1 FROM contact_sends WHERE channel = {m} AND endpoint = {m} AND key = {m}",
                (channel, endpoint, notification.key),
            ).fetchone():
                return None  # a retry: its slot was taken by its first attempt
            frees = self._frees_at(connection, channel, endpoint, at, limit, window_seconds)
            if frees is None:
                connection.execute(
                    f"INSERT INTO contact_sends (channel, endpoint, key, at) VALUES ({m}, {m}, {m}, {m})",
                    (channel, endpoint, notification.key, at),
                )
                return None
            release = from_micros(frees)
            detail = fold_detail(channel, limit, window_seconds, release)
            (attempts,) = connection.execute(
                f"SELECT attempts FROM outbox WHERE key = {m}", (notification.key,)
            ).fetchone() or (1,)
            result = DeliveryResult(
                key=notification.key, ok=False, detail=detail, at=now, attempts=int(attempts), retryable=False
            )
            connection.execute(
                f"INSERT INTO delivery_log (key, attempt, at, ok, result) VALUES ({m}, {m}, {m}, {m}, {m})",
                (notification.key, result.attempts, at, False, database.dump(result)),
            )
            connection.execute(
                "UPDATE outbox SET status = 'folded', next_attempt_at = NULL, lease_until = NULL, "
                f"result = {m} WHERE key = {m}",
                (database.dump(result), notification.key),
            )
            connection.execute(
                f"INSERT INTO folds (channel, endpoint, key, release_at) VALUES ({m}, {m}, {m}, {m}) "
                "ON CONFLICT (key) DO NOTHING",
                (channel, endpoint, notification.key, frees),
            )
            if notification.escalation_id:
                event = fold_event(notification, detail, now)
                connection.execute(
                    "INSERT INTO journal (escalation_id, incident_id, at, kind, event) "
                    f"VALUES ({m}, {m}, {m}, {m}, {m})",
                    (notification.escalation_id, notification.incident_id, at, event.kind, database.dump(event)),
                )
        return release

    def due_summaries(self, now: datetime) -> list[tuple[str, str]]:
        """The contacts whose summary of folded pages may go at ``now``."""
        with self.database.reading() as connection:
            rows = connection.execute(
                "SELECT channel, endpoint, MIN(release_at) AS due FROM folds WHERE summary_key IS NULL "
                f"GROUP BY channel, endpoint HAVING MIN(release_at) <= {self.MARK} ORDER BY due",
                (to_micros(now),),
            ).fetchall()
        return [(str(channel), str(endpoint)) for channel, endpoint, _ in rows]

    def summarize(
        self,
        channel: str,
        endpoint: str,
        *,
        now: datetime,
        limit: int | None,
        window_seconds: float,
        build: Callable[[list[Notification], datetime], Notification | None],
    ) -> Notification | None:
        """One summary of the contact's folded pages, holding a slot; see ``DeliveryStore.summarize``."""
        m = self.MARK
        at = to_micros(now)
        database = self.database
        with database.transaction() as connection:
            database.serialize_on("contact", f"{channel} {endpoint}")
            rows = connection.execute(
                "SELECT f.key, o.notification FROM folds AS f JOIN outbox AS o ON o.key = f.key "
                f"WHERE f.channel = {m} AND f.endpoint = {m} AND f.summary_key IS NULL ORDER BY f.seq",
                (channel, endpoint),
            ).fetchall()
            if not rows:
                return None
            if limit is not None:
                frees = self._frees_at(connection, channel, endpoint, at, limit, window_seconds)
                if frees is not None:
                    connection.execute(
                        f"UPDATE folds SET release_at = {m} WHERE channel = {m} AND endpoint = {m} "
                        "AND summary_key IS NULL",
                        (frees, channel, endpoint),
                    )
                    return None
            summary = build([self._notification(key, text) for key, text in rows], now)
            if summary is None:  # nothing worth sending: the pages are settled, no slot is taken
                connection.execute(
                    f"UPDATE folds SET summary_key = {m} WHERE channel = {m} AND endpoint = {m} "
                    "AND summary_key IS NULL",
                    (SETTLED, channel, endpoint),
                )
                return None
            self._insert(connection, [summary])
            connection.execute(
                f"INSERT INTO contact_sends (channel, endpoint, key, at) VALUES ({m}, {m}, {m}, {m}) "
                "ON CONFLICT (channel, endpoint, key) DO NOTHING",
                (channel, endpoint, summary.key, at),
            )
            connection.execute(
                f"UPDATE folds SET summary_key = {m} WHERE channel = {m} AND endpoint = {m} AND summary_key IS NULL",
                (summary.key, channel, endpoint),
            )
        return summary

    def _next_summary_at(self, connection: Any) -> int | None:
        """The earliest instant a contact's summary comes due (None: no page is folded)."""
        row = connection.execute("SELECT MIN(release_at) FROM folds WHERE summary_key IS NULL").fetchone()
        return int(row[0]) if row is not None and row[0] is not None else None

    def _frees_at(
        self, connection: Any, channel: str, endpoint: str, at: int, limit: int, window_seconds: float
    ) -> int | None:
        """When the contact's next slot frees (None: one is free at ``at``); forgets sends older than the window."""
        m = self.MARK
        window = int(window_seconds * MICROS_PER_SECOND)
        connection.execute(
            f"DELETE FROM contact_sends WHERE channel = {m} AND endpoint = {m} AND at <= {m}",
            (channel, endpoint, at - window),
        )
        sent = connection.execute(
            f"SELECT at FROM contact_sends WHERE channel = {m} AND endpoint = {m} ORDER BY at",
            (channel, endpoint),
        ).fetchall()
        return slot_frees_at([int(value) for (value,) in sent], limit, window)
