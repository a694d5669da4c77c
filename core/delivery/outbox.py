"""The notification outbox: every page is written first, then handed to its channel, and the answer recorded.

The engine writes notifications into the store in the same transaction as the state change that created
them, then :meth:`Outbox.submit` queues the new ones. Delivery runs in asyncio tasks with a timeout per
attempt; each endpoint (a channel and an address or URL) has its own queue and a few workers, so a slow or
failing endpoint never holds up the escalation timer, another endpoint, or another channel.

Each attempt is claimed in the store first (with a lease, so a sender that crashed mid-send is retried once
the lease runs out), then the answer is recorded: ``sent``; ``failed`` with the next attempt scheduled by
the :class:`~tocsin.delivery.retry.RetryPolicy` (exponential backoff with full jitter, or the receiver's
``Retry-After``); or ``dead`` when no attempt is left or none could help. An endpoint that answers "gone"
(HTTP 410) is disabled in the store and later notifications to it die at once with that reason. Nothing is
ever recorded as delivered because it was queued, and "now" always comes from the injected clock.

A channel with a rate limit (``delivery.rate_limits``) has each first attempt take a slot of its contact's
window in the store; a page that finds none is folded, and the contact's folded pages go out as one summary
message when a slot frees (see :mod:`tocsin.delivery.ratelimit`). With action links (:meth:`Outbox.use_links`),
each page is handed to its channel with freshly signed links.
The senders' lifecycles are the outbox's: :meth:`Outbox.start` (awaited by :meth:`Outbox.run`) starts the
senders of the channels the config uses, a sender of any other channel is started before its first delivery,
and :meth:`Outbox.aclose` closes them all once the deliveries in flight are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from tocsin.clock import Clock
from tocsin.delivery.channels import ChannelError, ChannelSet, ChannelStartError, Sender
from tocsin.delivery.links import ActionLinks
from tocsin.delivery.ratelimit import ContactWindows
from tocsin.delivery.retry import RetryPolicy
from tocsin.delivery.settings import DeliverySettings
from tocsin.delivery.urls import redact_url
from tocsin.logs import get_logger
from tocsin.models import DeliveryResult, Notification
from tocsin.store.busy import retry_while_busy
from tocsin.store.group import Commits
from tocsin.store.interfaces import DeliveryStore

__all__ = ["DeliveryListener", "MemorySink", "Outbox", "Sender"]

_log = get_logger(component="outbox")

DeliveryListener = Callable[[Notification, DeliveryResult], None]
_Endpoint = tuple[str, str]  # (channel, endpoint)
T = TypeVar("T")


class MemorySink:
    """A sender that keeps what it is given and confirms it: for tests, benchmarks and simulations.

    ``detail`` is recorded on every result (a simulation says "simulated: not delivered").
    """

    def __init__(self, detail: str = "") -> None:
        self.notifications: list[Notification] = []
        self._detail = detail

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Keep ``notification`` and report it sent."""
        self.notifications.append(notification)
        return DeliveryResult(key=notification.key, ok=True, detail=self._detail, at=notification.due_at)


class _Lane:
    """The queue of one endpoint and how many workers drain it (``busy``: inside a delivery)."""

    __slots__ = ("busy", "queue", "workers")

    def __init__(self) -> None:
        self.queue: deque[Notification] = deque()
        self.workers = 0
        self.busy = 0


class Outbox:
    """Hands stored notifications to their channels, retries failures, and records what happened.

    :param store: the outbox table (claims, answers, retry times, dead letters, disabled endpoints).
    :param settings: retries, timeout and lease (the config's ``delivery`` section; defaults otherwise).
    :param timeout_seconds: overrides ``settings.timeout_seconds``.
    :param per_endpoint_limit: how many deliveries to one endpoint run at once.
    :param poll_seconds: how often :meth:`run` looks in the store for work it was not handed (another
        instance's, or a lease that ran out) when nothing is due sooner.
    :param rng: the jitter's random source (a seeded ``random.Random`` makes retries reproducible).
    :param still_open: ``still_open(incident_id, escalation_id)``: whether a page a rate limit folded is still
        worth a summary (its escalation is the incident's open one); None: every folded page is.
    """

    def __init__(
        self,
        store: DeliveryStore,
        channels: ChannelSet,
        *,
        clock: Clock,
        settings: DeliverySettings | None = None,
        timeout_seconds: float | None = None,
        per_endpoint_limit: int = 8,
        poll_seconds: float = 5.0,
        rng: random.Random | None = None,
        still_open: Callable[[str, str], bool] | None = None,
    ) -> None:
        settings = settings if settings is not None else DeliverySettings()
        self._store = store
        self._channels = channels
        self._clock = clock
        self._timeout = timeout_seconds if timeout_seconds is not None else settings.timeout_seconds
        lease = settings.lease
        self._lease = lease if lease > self._timeout else self._timeout + 30.0
        self._retry: RetryPolicy = settings.retry_policy()
        self._rng = rng if rng is not None else random.Random()
        self._limit = per_endpoint_limit
        self._poll = poll_seconds
        self._lanes: dict[_Endpoint, _Lane] = {}
        self._known: set[str] = set()  # keys queued or in flight here
        self._disabled: dict[_Endpoint, str] | None = None  # loaded from the store on first use
        self._next_retry: datetime | None = None
        self._wakeup = asyncio.Event()
        self._wakeup_loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[DeliveryListener] = []
        self._commits: Commits | None = None
        self._windows = ContactWindows(store, settings.rate_limits, still_open)
        self._links: ActionLinks | None = None

    @property
    def channels(self) -> ChannelSet:
        """The senders, by channel name."""
        return self._channels

    @property
    def retry_policy(self) -> RetryPolicy:
        """When failed attempts are tried again, and how many attempts there are."""
        return self._retry

    def write_through(self, commits: Commits) -> None:
        """Run each claim and each recorded answer through ``commits`` (a server's group commit, which lets the
        deliveries of concurrent incidents share their commits) instead of one transaction each."""
        self._commits = commits

    def use_links(self, links: ActionLinks | None) -> None:
        """Hand each page to its channel with action links made by ``links`` (None: without links)."""
        self._links = links

    def subscribe(self, listener: DeliveryListener) -> None:
        """Call ``listener(notification, result)`` after each delivery attempt."""
        self._listeners.append(listener)

    def submit(self, notifications: Iterable[Notification]) -> None:
        """Queue notifications the store has just accepted; a running :meth:`run` picks them up at once."""
        lanes = self._lanes
        known = self._known
        added = False
        for notification in notifications:
            key = notification.key
            if key in known:
                continue
            known.add(key)
            where = self._endpoint(notification)
            lane = lanes.get(where)
            if lane is None:
                lane = lanes[where] = _Lane()
            lane.queue.append(notification)
            added = True
        if added:
            self._wakeup.set()

    def queued(self) -> int:
        """How many notifications wait to be handed to a channel (not counting those in flight)."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    def in_flight(self) -> int:
        """How many deliveries are running."""
        return sum(lane.busy for lane in self._lanes.values())

    def requeue_due(self) -> int:
        """Queue what the store says may be attempted now (by the clock): notifications never sent (written
        before a restart, or by another instance), retries whose wait is over, and claims whose lease ran out.
        Returns how many were queued."""
        store = self._store
        now = self._clock.now()
        due = [n for n in store.due_deliveries(now) if n.key not in self._known]
        due += [n for n in self._windows.summaries(now) if n.key not in self._known]
        self._next_retry = store.next_delivery_at()
        self._disabled = store.disabled_endpoints()
        self.submit(due)
        return len(due)

    def recover(self) -> int:
        """Queue the store's undelivered notifications after a restart (see :meth:`requeue_due`)."""
        return self.requeue_due()

    def next_retry_at(self) -> datetime | None:
        """When the earliest scheduled retry (or running lease) comes due, as last seen; None: none waits."""
        return self._next_retry

    def wake(self) -> None:
        """Make a running :meth:`run` look at the store and the clock now (after moving a manual clock)."""
        self._wakeup.set()

    async def flush(self) -> None:
        """Deliver everything queued and wait until no delivery is in flight (retries stay scheduled)."""
        while self.queued() or self._tasks:
            self._start_workers()
            wakeup = self._loop_event()
            wakeup.clear()
            more = asyncio.ensure_future(wakeup.wait())  # new work arrived: start workers for it
            await asyncio.wait({*self._tasks, more}, return_when=asyncio.FIRST_COMPLETED)
            more.cancel()

    async def deliver_due(self) -> int:
        """Queue what is due now (:meth:`requeue_due`) and :meth:`flush`; returns how many were queued."""
        count = self.requeue_due()
        await self.flush()
        return count

    async def start(self) -> None:
        """Start the senders of the channels the config uses (see :meth:`ChannelSet.start`)."""
        await self._channels.start()

    async def run(self) -> None:
        """Start the senders, then deliver notifications as they are submitted and retries as they come due,
        until cancelled."""
        await self.start()
        polled_at: datetime | None = None
        while True:
            wakeup = self._loop_event()
            wakeup.clear()
            now = self._clock.now()
            due = self._next_retry
            if (
                polled_at is None
                or now >= polled_at + timedelta(seconds=self._poll)
                or (due is not None and due <= now)
            ):
                try:
                    self.requeue_due()
                except Exception:  # the store is unavailable for now: look again at the next poll
                    _log.exception("could not read the outbox; trying again later")
                polled_at = now
            self._start_workers()
            wait = self._poll
            if self._next_retry is not None:
                wait = min(wait, max((self._next_retry - now).total_seconds(), 0.0))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await wakeup.wait()

    async def aclose(self) -> None:
        """Wait for deliveries in flight, then close the senders (each started sender's ``close()``)."""
        await self.flush()
        await self._channels.close()

    # --- internals ---------------------------------------------------------------------------------------

    def _loop_event(self) -> asyncio.Event:
        """The wake-up event, bound to the running loop (a new loop gets a new event)."""
        loop = asyncio.get_running_loop()
        if self._wakeup_loop is not loop:
            self._wakeup = asyncio.Event()
            self._wakeup_loop = loop
        return self._wakeup

    def _endpoint(self, notification: Notification) -> _Endpoint:
        channel = notification.recipient.channel
        try:
            locate = getattr(self._channels.sender(channel), "endpoint", None)
        except ChannelError:
            locate = None
        return channel, locate(notification) if locate is not None else notification.recipient.address

    def _start_workers(self) -> None:
        tasks = self._tasks
        for where, lane in list(self._lanes.items()):
            if not lane.queue and not lane.workers:
                del self._lanes[where]
                continue
            while lane.queue and lane.workers < self._limit and lane.workers - lane.busy < len(lane.queue):
                lane.workers += 1
                task = asyncio.create_task(self._work(where, lane))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _work(self, where: _Endpoint, lane: _Lane) -> None:
        try:
            queue = lane.queue
            while queue:
                notification = queue.popleft()
                lane.busy += 1
                try:
                    await self._send(notification, where)
                except Exception:  # a store fault: the notification stays in the outbox for the next poll
                    _log.exception("delivery failed before an answer was recorded", key=notification.key)
                finally:
                    lane.busy -= 1
                    self._known.discard(notification.key)
                if queue and lane.workers - lane.busy < len(queue):
                    self._wakeup.set()  # more waiting than free workers: let run() start another
        finally:
            lane.workers -= 1

    async def _send(self, notification: Notification, where: _Endpoint) -> None:
        key = notification.key
        claim = functools.partial(self._store.claim, key, now=self._clock.now(), lease_seconds=self._lease)
        attempt = await self._write(claim)
        if attempt is None:
            return  # sent, dead, not due yet, or held by another sender: at most one attempt at a time
        disabled = self._disabled_reason(where)
        if disabled is not None:
            answer = DeliveryResult(key=key, ok=False, retryable=False, detail=disabled)
        elif await self._held_back(notification, where):
            return
        else:
            answer = await self._attempt(notification, where[0])
        now = self._clock.now()
        result, retry_at = self._settle(attrs.evolve(answer, key=key, at=now, attempts=attempt), where, now)
        await self._record(result, retry_at)
        for listener in self._listeners:
            try:
                listener(notification, result)
            except Exception:
                _log.exception("delivery listener failed", key=key)

    async def _held_back(self, notification: Notification, where: _Endpoint) -> bool:
        """Whether the contact's rate limit folded ``notification`` (in the store; see ``ContactWindows``)."""
        take = self._windows.slot(notification, where[1], self._clock.now())
        release = await self._write(take) if take is not None else None
        if release is None:
            return False
        _log.info("page folded", key=notification.key, channel=where[0], summary_at=release.isoformat())
        if self._next_retry is None or release < self._next_retry:
            self._next_retry = release
            self._wakeup.set()
        return True

    async def _record(self, result: DeliveryResult, retry_at: datetime | None) -> None:
        """Record an attempt's result. While another process holds the store's lock, try again for as long as
        the claim's lease surely still runs (the send took at most the timeout): a send whose result is lost
        would be sent again."""
        finish = functools.partial(self._store.finish, result, retry_at=retry_at)
        await retry_while_busy(lambda: self._write(finish), seconds=self._lease - self._timeout)

    async def _write(self, operation: Callable[[], T]) -> T:
        """``operation()`` (a claim or a recorded answer), through the server's group commit when it has one."""
        return operation() if self._commits is None else await self._commits.run(operation)

    def _settle(
        self, result: DeliveryResult, where: _Endpoint, now: datetime
    ) -> tuple[DeliveryResult, datetime | None]:
        """What follows an attempt: the result to record and, after a failure worth retrying, the next
        attempt's time (None: sent, or dead)."""
        if result.ok:
            return result, None
        key, attempt = result.key, result.attempts
        if result.gone:
            shown = redact_url(where[1])
            reason = f"endpoint {shown} is disabled: {result.detail}"
            self._store.disable_endpoint(where[0], where[1], reason, now)
            if self._disabled is not None:
                self._disabled[where] = reason
            _log.warning("endpoint disabled", channel=where[0], endpoint=shown, detail=result.detail)
        elif result.retryable:
            wait = self._retry.next_delay(attempt, rng=self._rng, retry_after=result.retry_after)
            if wait is not None:
                retry_at = now + timedelta(seconds=wait)
                if self._next_retry is None or retry_at < self._next_retry:
                    self._next_retry = retry_at
                    self._wakeup.set()
                _log.info(
                    "delivery failed; retry scheduled",
                    key=key,
                    attempt=attempt,
                    retry_at=retry_at.isoformat(),
                    detail=result.detail,
                )
                return result, retry_at
            result = attrs.evolve(result, detail=f"{result.detail} (gave up after {attempt} attempts)")
        _log.warning("notification dead-lettered", key=key, attempts=attempt, channel=where[0], detail=result.detail)
        return result, None

    def _disabled_reason(self, where: _Endpoint) -> str | None:
        if self._disabled is None:
            self._disabled = self._store.disabled_endpoints()
        return self._disabled.get(where)

    async def _attempt(self, notification: Notification, channel: str) -> DeliveryResult:
        key = notification.key
        try:
            sender = await self._channels.started(channel)
        except ChannelStartError as exc:  # may pass: the sender is started again before the next attempt
            return DeliveryResult(key=key, ok=False, retryable=True, detail=str(exc))
        except ChannelError as exc:
            return DeliveryResult(key=key, ok=False, retryable=False, detail=str(exc))
        if self._links is not None and self._channels.shows_links(channel):
            notification = self._links.for_page(notification)
        try:
            async with asyncio.timeout(self._timeout):
                answer = await sender.deliver(notification)
        except TimeoutError:
            return DeliveryResult(key=key, ok=False, detail=f"channel {channel!r} timed out after {self._timeout:g}s")
        except Exception as exc:
            return DeliveryResult(key=key, ok=False, detail=f"channel {channel!r} raised {type(exc).__name__}: {exc}")
        if not isinstance(answer, DeliveryResult):
            return DeliveryResult(
                key=key, ok=False, detail=f"channel {channel!r} returned {answer!r} instead of a DeliveryResult"
            )
        return answer
