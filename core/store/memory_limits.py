"""Rate limits per contact and one-time credentials, in memory: the half of
:class:`~tocsin.store.memory.InMemoryStore` that keeps the promises of :mod:`tocsin.store.limits` in dictionaries
(a block that rolls back undoes what it wrote here too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tocsin.instants import MICROS_PER_SECOND, from_micros, to_micros
from tocsin.models import DeliveryResult, DeliveryStatus, EscalationEvent, Notification
from tocsin.store.limits import SETTLED, fold_detail, fold_event, slot_frees_at

__all__ = ["MemoryContactLimits"]

_Contact = tuple[str, str]  # (channel, endpoint)


class _Fold:
    """A page held back for its contact until a summary carries it."""

    __slots__ = ("contact", "release_at", "summary_key")

    def __init__(self, contact: _Contact, release_at: int) -> None:
        self.contact = contact
        self.release_at = release_at
        self.summary_key: str | None = None


class MemoryContactLimits:
    """The host provides ``_outbox`` (key -> entry), ``_unsettled``, ``_log``, ``_events``, ``_insert``,
    ``_remove`` and ``after_rollback``; call :meth:`_init_limits` first."""

    _outbox: dict[str, Any]
    _unsettled: dict[str, None]
    _log: dict[str, list[DeliveryResult]]
    _events: dict[str, list[EscalationEvent]]
    _insert: Callable[[list[Notification]], list[Notification]]
    _remove: Callable[[list[Notification]], None]
    after_rollback: Callable[[Callable[[], object]], None]

    def _init_limits(self) -> None:
        self._once: dict[str, int] = {}  # one-time key -> when it was used
        self._sends: dict[_Contact, dict[str, int]] = {}  # contact -> key -> when it was sent
        self._folds: dict[str, _Fold] = {}  # key -> its fold, in the order folded

    def use_once(self, key: str, *, at: datetime, expires_at: datetime) -> datetime | None:
        """Record the first use of ``key``; None then, else when it was first used."""
        used = self._once.get(key)
        if used is not None:
            return from_micros(used)
        self._once[key] = to_micros(at)
        self.after_rollback(lambda: self._once.pop(key, None))
        return None

    def take_slot(
        self, notification: Notification, endpoint: str, *, now: datetime, limit: int, window_seconds: float
    ) -> datetime | None:
        """Record the send, or fold the notification and return when its summary may go."""
        key = notification.key
        channel = notification.recipient.channel
        sends = self._window((channel, endpoint), to_micros(now), window_seconds)
        if key in sends:
            return None
        frees = slot_frees_at(sorted(sends.values()), limit, int(window_seconds * MICROS_PER_SECOND))
        if frees is None:
            sends[key] = to_micros(now)
            self.after_rollback(lambda: sends.pop(key, None))
            return None
        release = from_micros(frees)
        detail = fold_detail(channel, limit, window_seconds, release)
        entry = self._outbox[key]
        before = (entry.status, entry.result, entry.next_attempt_at, entry.lease_until)
        result = DeliveryResult(key=key, ok=False, detail=detail, at=now, attempts=entry.attempts, retryable=False)
        entry.status, entry.result, entry.next_attempt_at, entry.lease_until = DeliveryStatus.FOLDED, result, None, None
        self._unsettled.pop(key, None)
        log = self._log.setdefault(key, [])
        log.append(result)
        self._folds[key] = _Fold((channel, endpoint), frees)
        journal = self._events.setdefault(notification.escalation_id, []) if notification.escalation_id else None
        if journal is not None:
            journal.append(fold_event(notification, detail, now))

        def undo() -> None:
            entry.status, entry.result, entry.next_attempt_at, entry.lease_until = before
            self._unsettled[key] = None
            log.pop()
            self._folds.pop(key, None)
            if journal is not None:
                journal.pop()

        self.after_rollback(undo)
        return release

    def due_summaries(self, now: datetime) -> list[tuple[str, str]]:
        """The contacts whose summary of folded pages may go at ``now``."""
        at = to_micros(now)
        due: dict[_Contact, int] = {}
        for fold in self._folds.values():
            if fold.summary_key is None:
                due[fold.contact] = min(due.get(fold.contact, fold.release_at), fold.release_at)
        return [contact for contact, when in sorted(due.items(), key=lambda item: item[1]) if when <= at]

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
        """One summary of the contact's folded pages, holding a slot."""
        contact = (channel, endpoint)
        waiting = [(key, fold) for key, fold in self._folds.items() if fold.contact == contact and not fold.summary_key]
        if not waiting:
            return None
        at = to_micros(now)
        sends = self._window(contact, at, window_seconds)
        if limit is not None:
            frees = slot_frees_at(sorted(sends.values()), limit, int(window_seconds * MICROS_PER_SECOND))
            if frees is not None:
                for _, fold in waiting:
                    fold.release_at = frees
                return None
        summary = build([self._outbox[key].notification for key, _ in waiting], now)
        if summary is None:  # nothing worth sending: the pages are settled, no slot is taken
            for _, fold in waiting:
                fold.summary_key = SETTLED

            def unsettle() -> None:
                for _, fold in waiting:
                    fold.summary_key = None

            self.after_rollback(unsettle)
            return None
        fresh = self._insert([summary])
        sends[summary.key] = at
        for _, fold in waiting:
            fold.summary_key = summary.key

        def undo() -> None:
            self._remove(fresh)
            sends.pop(summary.key, None)
            for _, fold in waiting:
                fold.summary_key = None

        self.after_rollback(undo)
        return summary

    def _next_summary_at(self) -> datetime | None:
        times = [fold.release_at for fold in self._folds.values() if fold.summary_key is None]
        return from_micros(min(times)) if times else None

    def _window(self, contact: _Contact, at: int, window_seconds: float) -> dict[str, int]:
        """The contact's sends, those older than the window forgotten."""
        since = at - int(window_seconds * MICROS_PER_SECOND)
        sends = self._sends.setdefault(contact, {})
        for key in [key for key, when in sends.items() if when <= since]:
            del sends[key]
        return sends
