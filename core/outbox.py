"""The notification outbox: every page is written first, then handed to its channel, and the answer recorded.

The engine writes notifications into the store in the same transaction as the state change that created
them, then :meth:`Outbox.submit` queues the new ones. Delivery runs in its own asyncio tasks, one per
notification, with a timeout and a per-channel limit on how many run at once, so a failing or slow channel
never holds up the escalation timer, another channel, or another recipient. A notification is claimed in
the store before it is sent (``pending -> sending``), so it goes out at most once per idempotency key; the
store then records the real answer: ``sent``, or ``failed`` with the reason. Nothing is ever recorded as
delivered because it was queued.

Retries with backoff and request signing slot in here (a policy around :meth:`Outbox._send`) and in the
senders; durable storage is the store's job.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from tocsin.channels import ChannelError, ChannelSet
from tocsin.clock import Clock
from tocsin.logs import get_logger
from tocsin.models import DeliveryResult, Notification
from tocsin.store import EscalationStore

__all__ = ["DeliveryListener", "MemorySink", "Outbox", "Sender"]

_log = get_logger(component="outbox")

DeliveryListener = Callable[[Notification, DeliveryResult], None]


@runtime_checkable
class Sender(Protocol):
    """Delivers notifications through one channel. ``create(settings)`` of a channel plugin returns one."""

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Send ``notification``; return ``ok=True`` only when the channel confirmed it, else the reason."""
        ...


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
    """The queue of one channel and how many workers drain it (``busy``: inside a delivery)."""

    __slots__ = ("busy", "queue", "workers")

    def __init__(self) -> None:
        self.queue: deque[Notification] = deque()
        self.workers = 0
        self.busy = 0


class Outbox:
    """Hands stored notifications to their channels and records what happened.

    Each channel has its own queue, drained by up to ``per_channel_limit`` worker tasks; a worker waiting on
    a slow delivery holds only itself, and another worker starts whenever notifications wait and no worker
    is free, so a slow or failing recipient never holds up another one.
    """

    def __init__(
        self,
        store: EscalationStore,
        channels: ChannelSet,
        *,
        clock: Clock,
        timeout_seconds: float = 30.0,
        per_channel_limit: int = 64,
    ) -> None:
        self._store = store
        self._channels = channels
        self._clock = clock
        self._timeout = timeout_seconds
        self._limit = per_channel_limit
        self._lanes: dict[str, _Lane] = {}
        self._wakeup = asyncio.Event()
        self._wakeup_loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[DeliveryListener] = []

    @property
    def channels(self) -> ChannelSet:
        """The senders, by channel name."""
        return self._channels

    def subscribe(self, listener: DeliveryListener) -> None:
        """Call ``listener(notification, result)`` after each delivery attempt."""
        self._listeners.append(listener)

    def submit(self, notifications: Iterable[Notification]) -> None:
        """Queue notifications the store has just accepted; a running :meth:`run` picks them up at once."""
        lanes = self._lanes
        added = False
        for notification in notifications:
            channel = notification.recipient.channel
            lane = lanes.get(channel)
            if lane is None:
                lane = lanes[channel] = _Lane()
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

    def recover(self) -> int:
        """Queue the notifications the store holds as pending (written before a restart, never sent)."""
        known = {notification.key for lane in self._lanes.values() for notification in lane.queue}
        fresh = [notification for notification in self._store.pending() if notification.key not in known]
        self.submit(fresh)
        return len(fresh)

    async def flush(self) -> None:
        """Deliver everything queued and wait until no delivery is in flight."""
        while self.queued() or self._tasks:
            self._start_workers()
            wakeup = self._loop_event()
            wakeup.clear()
            more = asyncio.ensure_future(wakeup.wait())  # new work arrived: start workers for it
            await asyncio.wait({*self._tasks, more}, return_when=asyncio.FIRST_COMPLETED)
            more.cancel()

    async def run(self) -> None:
        """Deliver notifications as they are submitted, until cancelled."""
        while True:
            wakeup = self._loop_event()
            wakeup.clear()
            self._start_workers()
            await wakeup.wait()

    async def aclose(self) -> None:
        """Wait for deliveries in flight, then close the senders."""
        await self.flush()
        await self._channels.aclose()

    def _loop_event(self) -> asyncio.Event:
        """The wake-up event, bound to the running loop (a new loop gets a new event)."""
        loop = asyncio.get_running_loop()
        if self._wakeup_loop is not loop:
            self._wakeup = asyncio.Event()
            self._wakeup_loop = loop
        return self._wakeup

    def _start_workers(self) -> None:
        tasks = self._tasks
        for channel, lane in self._lanes.items():
            while lane.queue and lane.workers < self._limit and lane.workers - lane.busy < len(lane.queue):
                lane.workers += 1
                task = asyncio.create_task(self._work(channel, lane))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _work(self, channel: str, lane: _Lane) -> None:
        try:
            queue = lane.queue
            while queue:
                notification = queue.popleft()
                lane.busy += 1
                try:
                    await self._send(notification, channel)
                finally:
                    lane.busy -= 1
                if queue and lane.workers - lane.busy < len(queue):
                    self._wakeup.set()  # more waiting than free workers: let run() start another
        finally:
            lane.workers -= 1

    async def _send(self, notification: Notification, channel: str) -> None:
        if not self._store.claim(notification.key):
            return  # already sent, or being sent by someone else: at most once per key
        ok, detail, attempts = await self._attempt(notification, channel)
        result = DeliveryResult(key=notification.key, ok=ok, detail=detail, at=self._clock.now(), attempts=attempts)
        self._store.finish(result)
        for listener in self._listeners:
            try:
                listener(notification, result)
            except Exception:
                _log.exception("delivery listener failed", key=notification.key)

    async def _attempt(self, notification: Notification, channel: str) -> tuple[bool, str, int]:
        try:
            sender = self._channels.sender(channel)
        except ChannelError as exc:
            return False, str(exc), 0
        try:
            async with asyncio.timeout(self._timeout):
                answer = await sender.deliver(notification)
        except TimeoutError:
            return False, f"channel {channel!r} timed out after {self._timeout:g}s", 1
        except Exception as exc:
            return False, f"channel {channel!r} raised {type(exc).__name__}: {exc}", 1
        if not isinstance(answer, DeliveryResult):
            return False, f"channel {channel!r} returned {answer!r} instead of a DeliveryResult", 1
        return answer.ok, answer.detail, answer.attempts
