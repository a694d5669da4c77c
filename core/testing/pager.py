"""An engine wired to a recording sender, on a manual clock: what a test of policies, targets or rules needs.

:class:`Pager` processes incidents through the config's routing rules and escalation policies with the real
engine and outbox; every page goes to one :class:`RecordingSender` instead of its channel, so a test asserts
exactly who was paged, when and through which channel, and that nobody else was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tocsin.clock import ManualClock
from tocsin.config.model import Config
from tocsin.delivery.channels import ChannelSet
from tocsin.escalation.engine import EscalationEngine
from tocsin.intake.processor import IncidentProcessor, ProcessResult
from tocsin.manager import Plugins
from tocsin.models import DeliveryResult, EscalationState, Incident, Notification

__all__ = ["Page", "Pager", "RecordingSender"]


class Page(NamedTuple):
    """One page as a test states it: the minute it fired (from the pager's start), the level, the recipient's
    address and the channel. Compares equal to the plain tuple ``(minute, level, recipient, channel)``."""

    minute: float
    level: int
    recipient: str
    channel: str


class RecordingSender:
    """A sender that keeps every notification and confirms it; :meth:`take` hands out what a test has not seen.

    :param origin: the instant minute 0 of :class:`Page` stands for.
    """

    def __init__(self, origin: datetime) -> None:
        self.origin = origin
        self.notifications: list[Notification] = []
        self._seen = 0

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Record ``notification``; always confirmed."""
        self.notifications.append(notification)
        return DeliveryResult(key=notification.key, ok=True, detail="recorded", at=notification.due_at)

    def pages(self, incident_ids: Iterable[str] | None = None) -> list[Page]:
        """Every page recorded (of ``incident_ids`` only, when given), in the order they fired (pages that fired
        together: in the order they were sent)."""
        wanted = set(incident_ids) if incident_ids is not None else None
        return self._in_order([n for n in self.notifications if wanted is None or n.incident_id in wanted])

    def take(self) -> list[Page]:
        """The pages recorded since the last ``take()``, in the order they fired; they count as seen."""
        fresh = self.notifications[self._seen :]
        self._seen = len(self.notifications)
        return self._in_order(fresh)

    def assert_no_more(self) -> None:
        """Fail when anything was sent that no ``take()`` has returned: nobody else was paged."""
        unseen = self._in_order(self.notifications[self._seen :])
        assert not unseen, f"pages nobody expected: {unseen}"

    def _in_order(self, notifications: list[Notification]) -> list[Page]:
        # The outbox delivers each endpoint's pages in its own queue: what fired together may arrive in any order.
        fired = sorted(notifications, key=lambda notification: notification.fired_at or notification.due_at)
        return [self._page(notification) for notification in fired]

    def _page(self, notification: Notification) -> Page:
        fired = notification.fired_at or notification.due_at
        minutes = (fired - self.origin) / timedelta(minutes=1)
        return Page(
            int(minutes) if minutes == int(minutes) else minutes,
            notification.level,
            notification.recipient.address,
            notification.recipient.channel,
        )


class Pager:
    """A config's routing and escalation, on ``clock``, paging into ``sender``.

    Build one with :meth:`build` (the ``tocsin_pager`` fixture does). Every method that moves time or changes
    an escalation delivers what became due before it returns.
    """

    def __init__(self, engine: EscalationEngine, processor: IncidentProcessor, sender: RecordingSender) -> None:
        self.engine = engine
        self.processor = processor
        self.sender = sender
        self.clock: ManualClock = engine.clock  # type: ignore[assignment]  # build() gives it a ManualClock

    @classmethod
    def build(cls, config: Config, plugins: Plugins, clock: ManualClock, **engine_options: Any) -> Pager:
        """A pager for ``config`` with ``plugins`` (its ``plugins`` settings applied) on ``clock``."""
        sender = RecordingSender(clock.now())
        plugins = plugins.configured(config.plugins)
        channels = ChannelSet(plugins.registry, config.channels, every_channel=sender)
        engine = EscalationEngine.from_config(config, plugins, clock=clock, channels=channels, **engine_options)
        return cls(engine, IncidentProcessor.from_config(engine, config), sender)

    def incident(self, **fields: Any) -> Incident:
        """An incident created now: ``id`` ``inc-1`` and severity P1 unless ``fields`` say otherwise."""
        fields.setdefault("id", "inc-1")
        fields.setdefault("title", fields["id"])
        fields.setdefault("severity", "P1")
        fields.setdefault("created_at", self.clock.now())
        return Incident(**fields)

    def process(self, incident: Incident | None = None, **fields: Any) -> ProcessResult:
        """Route ``incident`` (or :meth:`incident` made from ``fields``) and start its policy, as the API does."""
        result = self.processor.process(incident if incident is not None else self.incident(**fields))
        self.deliver()
        return result

    def start(self, policy_id: str, incident: Incident | None = None, **fields: Any) -> EscalationState:
        """Start ``policy_id`` for ``incident`` (or one made from ``fields``) without routing."""
        state = self.engine.start_escalation(incident if incident is not None else self.incident(**fields), policy_id)
        self.deliver()
        return state

    def advance(self, delta: timedelta | None = None, **parts: float) -> None:
        """Move the clock by ``delta`` or ``timedelta(**parts)``, firing every level due on the way at its time."""
        step = delta if delta is not None else timedelta(**parts)
        self.engine.run_until(self.clock.now() + step)
        self.deliver()

    def acknowledge(self, incident_id: str = "inc-1", by: str = "oncall@example.com") -> EscalationState:
        """Acknowledge the incident's escalation."""
        state = self.engine.acknowledge_escalation(incident_id, by)
        self.deliver()
        return state

    def resolve(self, incident_id: str = "inc-1", by: str | None = None) -> None:
        """Resolve the incident (and so its escalation)."""
        self.processor.resolve_incident(incident_id, by=by)
        self.deliver()

    def deliver(self) -> None:
        """Hand everything due to the sender, through the real outbox."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.engine.outbox.deliver_due())
            return
        raise RuntimeError("Pager runs the outbox in an event loop of its own: use it from a test that is not async")

    def pages(self, incident_ids: Iterable[str] | None = None) -> list[Page]:
        """The pages sent so far, in the order they fired (of ``incident_ids`` only, when given)."""
        return self.sender.pages(incident_ids)
