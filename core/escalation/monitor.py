"""The monitor: ticks the engine when something is due, sleeps otherwise, wakes early on a change.

It sleeps until the due-queue's earliest time, or until a change makes something due sooner (a new
escalation, an acknowledgement), never longer than ``check_interval`` seconds. Each time it wakes it first
claims the store's due work (:meth:`~tocsin.escalation.engine.EscalationEngine.claim_due_work`), so escalations another
instance sharing the store started, changed or left behind are taken over within ``check_interval``; after a
claim that came back full it wakes again at once, until the due work is claimed. A store that announces when
work it holds becomes claimable (PostgreSQL's NOTIFY, see :mod:`tocsin.store.postgres.listen`) hands those
times to :meth:`Monitor.expect`, and the monitor wakes then too: another instance's work is claimed when it
comes due, and ``check_interval`` is only the fallback for an announcement that was lost. Other timed work
(heartbeat deadlines, :class:`TimedWork`) is run on the same wake-ups and wakes it the same way: no polling loop
of its own. The outbox delivers in its own task alongside, so a slow channel never delays a tick. The clock
decides what "now" is: with a ``ManualClock``, advance it and call :meth:`Monitor.wake`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from datetime import datetime
from typing import Protocol

from tocsin.clock import Clock
from tocsin.instants import MICROS_PER_SECOND, from_micros, to_micros
from tocsin.logs import get_logger

__all__ = ["Monitor", "MonitoredEngine", "TimedWork"]

_MOST_EXPECTED = 10_000  # announced due times held at once

_log = get_logger(component="monitor")


class Deliveries(Protocol):
    """The outbox as the monitor runs it: a delivery loop, and a flush of what is in flight."""

    async def run(self) -> None: ...

    async def flush(self) -> None: ...


class TimedWork(Protocol):
    """Work besides escalations that comes due at instants (a heartbeat's deadline): the monitor wakes for
    its earliest due time as for an escalation's, and runs it after each tick."""

    def next_due_at(self) -> datetime | None:
        """When something of it is next due (None: nothing is waiting)."""
        ...

    def run_due(self, now: datetime) -> int:
        """Do what is due at or before ``now``; returns how much was done."""
        ...


class MonitoredEngine(Protocol):
    """What the monitor needs of an engine (:class:`~tocsin.escalation.engine.EscalationEngine` has it)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def outbox(self) -> Deliveries: ...

    def claim_due_work(self) -> int: ...

    def tick(self) -> int: ...

    def next_due_at(self) -> datetime | None: ...

    @property
    def more_due_work(self) -> bool: ...


class Monitor:
    """Runs an engine's timer and outbox in the current event loop."""

    def __init__(self, engine: MonitoredEngine, check_interval: float) -> None:
        self.check_interval = check_interval
        self._engine = engine
        self._wakeup = asyncio.Event()
        self._sleeping_until: int | None = None  # microseconds; None while awake
        self._stopping = False
        self._expected: list[int] = []  # a heap of announced times (microseconds) other instances' work is due
        self.timers: list[TimedWork] = []  # other work it runs on the same wake-ups (heartbeats)

    @property
    def asleep_until(self) -> datetime | None:
        """When the running monitor's current sleep ends (by the engine's clock); None while it is awake."""
        return from_micros(self._sleeping_until) if self._sleeping_until is not None else None

    def changed(self, due: int) -> None:
        """Something is now due at ``due``: wake up if that is sooner than the current sleep ends."""
        if self._sleeping_until is not None and due < self._sleeping_until:
            self._wakeup.set()

    def expect(self, due: int) -> None:
        """Work this engine does not hold may become claimable at ``due`` (microseconds, by the engine's clock):
        wake then to claim it. Times already past wake the monitor now."""
        expected = self._expected
        if len(expected) >= _MOST_EXPECTED:  # a flood of announcements: keep the soonest, let the poll find the rest
            if due >= max(expected):
                return
            expected.remove(max(expected))
            heapq.heapify(expected)
        heapq.heappush(expected, due)
        self.changed(due)

    def wake(self) -> None:
        """Look at the due-queue now (after moving a manual clock, say)."""
        self._wakeup.set()

    def stop(self) -> None:
        """Make :meth:`run` return after its current step."""
        self._stopping = True
        self._wakeup.set()

    def add_timer(self, work: TimedWork) -> None:
        """Run ``work`` on this monitor's wake-ups, waking for its due times too."""
        self.timers.append(work)
        self.wake()

    def remove_timer(self, work: TimedWork) -> None:
        """Stop running ``work``."""
        if work in self.timers:
            self.timers.remove(work)

    def timers_due_at(self) -> datetime | None:
        """The earliest due time of the timers' work (None: none waits)."""
        return min((due for work in self.timers if (due := work.next_due_at()) is not None), default=None)

    def run_timers(self, now: datetime) -> int:
        """Run every timer's due work at ``now``; one that raises is logged, and the others still run."""
        done = 0
        for work in list(self.timers):
            try:
                done += work.run_due(now)
            except Exception:
                _log.exception("timed work failed; it runs again at the next wake", work=type(work).__name__)
        return done

    def sleep_seconds(self) -> float:
        """How long the monitor would sleep now: until the next due time, at most ``check_interval``."""
        engine = self._engine
        if engine.more_due_work:  # the last claim was a full batch: claim the rest as soon as these are done
            return 0.0
        now = engine.clock.now()
        announced = from_micros(self._expected[0]) if self._expected else None
        following = min(
            (due for due in (engine.next_due_at(), self.timers_due_at(), announced) if due is not None), default=None
        )
        if following is None:
            return self.check_interval
        wait = (following - now).total_seconds()
        return min(max(wait, 0.0), self.check_interval)

    def _forget_expected(self, claimed_at: int) -> None:
        """Drop the announced times up to ``claimed_at``: the claim made then covered them."""
        expected = self._expected
        while expected and expected[0] <= claimed_at:
            heapq.heappop(expected)

    async def run(self) -> None:
        """Tick and sleep until :meth:`stop`; then let deliveries in flight finish."""
        engine = self._engine
        self._stopping = False
        self._wakeup = asyncio.Event()  # bound to this run's loop
        deliveries = asyncio.create_task(engine.outbox.run())
        try:
            while not self._stopping:
                self._wakeup.clear()
                claiming_at = to_micros(engine.clock.now())
                try:
                    engine.claim_due_work()
                except Exception:  # the store is unreachable for now: run what this engine holds, claim next time
                    _log.exception("claiming due work failed; retrying at the next wake")
                engine.tick()
                self._forget_expected(claiming_at)
                if self.timers:
                    self.run_timers(engine.clock.now())
                wait = self.sleep_seconds()
                self._sleeping_until = to_micros(engine.clock.now()) + int(wait * MICROS_PER_SECOND)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wakeup.wait()
                self._sleeping_until = None
        finally:
            deliveries.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deliveries
            await engine.outbox.flush()
