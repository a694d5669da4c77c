"""Senders' lifecycles: the outbox awaits start() when it starts (or before a sender's first delivery) and close()
when it shuts down; a start that fails is a retryable failure; the webhook channel keeps one session."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any, ClassVar

import attrs
import pytest
from support.delivery_receiver import Receiver

import tocsin

EVENTS: list[str] = []


@attrs.frozen(kw_only=True)
class ProbeContact:
    type: ClassVar[str] = "probe"


@attrs.frozen(kw_only=True)
class ProbeTarget:
    type: ClassVar[str] = "to_probe"
    address: str


class ProbeSender:
    """Records its lifecycle; its first ``failing_starts`` starts raise."""

    failing_starts = 0

    def __init__(self) -> None:
        self.open = False

    async def start(self) -> None:
        if ProbeSender.failing_starts:
            ProbeSender.failing_starts -= 1
            EVENTS.append("start failed")
            raise RuntimeError("gateway down")
        self.open = True
        EVENTS.append("start")

    async def deliver(self, notification: tocsin.Notification) -> tocsin.DeliveryResult:
        EVENTS.append(f"deliver {notification.recipient.address} ({'open' if self.open else 'closed'})")
        return tocsin.DeliveryResult(key=notification.key, ok=True)

    async def close(self) -> None:
        self.open = False
        EVENTS.append("close")


def expand(target: ProbeTarget, ctx: Any) -> list[tocsin.Recipient]:
    return [tocsin.Recipient(address=target.address, channel="probe", target="to_probe")]


probe = types.ModuleType("lifecycle_probe")
probe.tocsin_register_channels = tocsin.hookimpl(
    lambda register: register(ProbeContact, create=lambda settings: ProbeSender())
)
probe.tocsin_register_targets = tocsin.hookimpl(lambda register: register(ProbeTarget, expand=expand))
sys.modules.setdefault("lifecycle_probe", probe)
pytestmark = pytest.mark.tocsin_plugins(probe, autoload=False)


@pytest.fixture(autouse=True)
def _fresh():
    EVENTS.clear()
    ProbeSender.failing_starts = 0


def engine(config: tocsin.Config, plugins: tocsin.Plugins, clock: tocsin.ManualClock) -> tocsin.EscalationEngine:
    return tocsin.EscalationEngine.from_config(config, plugins, clock=clock)


def page(engine: tocsin.EscalationEngine, clock: tocsin.ManualClock, incident_id: str = "inc-1") -> None:
    incident = tocsin.Incident(id=incident_id, title="disk full", severity="P1", created_at=clock.now())
    engine.start_escalation(incident, "p")


async def until(condition, *, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


async def test_a_channel_the_config_uses_is_started_with_the_outbox_and_closed_at_shutdown(
    tocsin_config, tocsin_plugins, tocsin_clock
):
    tocsin_config.user("ana@example.com", {"type": "probe"})
    tocsin_config.policy(id="p", levels=[{"targets": [{"type": "user", "email": "ana@example.com"}]}])
    running = engine(tocsin_config.build(), tocsin_plugins, tocsin_clock)
    monitor = asyncio.create_task(running.run_monitor())
    await until(lambda: EVENTS == ["start"])  # before anything was paged
    page(running, tocsin_clock)
    page(running, tocsin_clock, "inc-2")
    await until(lambda: len(EVENTS) == 3)
    running.stop_monitor()
    await monitor
    await running.outbox.aclose()
    assert EVENTS == ["start", "deliver ana@example.com (open)", "deliver ana@example.com (open)", "close"]


async def test_any_other_channel_is_started_before_its_first_delivery(tocsin_config, tocsin_plugins, tocsin_clock):
    tocsin_config.policy(id="p", levels=[{"targets": [{"type": "to_probe", "address": "pager-7"}]}])
    running = engine(tocsin_config.build(), tocsin_plugins, tocsin_clock)
    await running.outbox.start()
    assert EVENTS == []  # nothing in the config says the channel is used
    page(running, tocsin_clock)
    await running.outbox.flush()
    await running.outbox.aclose()
    assert EVENTS == ["start", "deliver pager-7 (open)", "close"]


async def test_a_start_that_fails_is_a_retryable_failure_and_is_tried_again(
    tocsin_config, tocsin_plugins, tocsin_clock
):
    ProbeSender.failing_starts = 1
    tocsin_config.policy(id="p", levels=[{"targets": [{"type": "to_probe", "address": "pager-7"}]}])
    running = engine(tocsin_config.build(), tocsin_plugins, tocsin_clock)
    page(running, tocsin_clock)
    await running.outbox.flush()
    (failed,) = running.get_escalation_state("inc-1").deliveries
    assert failed.status is tocsin.DeliveryStatus.FAILED
    assert failed.result.detail == "channel 'probe' could not start: RuntimeError: gateway down"
    tocsin_clock.set(running.store.next_delivery_at())
    await running.outbox.deliver_due()
    await running.outbox.aclose()
    (sent,) = running.get_escalation_state("inc-1").deliveries
    assert sent.status is tocsin.DeliveryStatus.SENT and sent.attempts == 2
    assert EVENTS == ["start failed", "start", "deliver pager-7 (open)", "close"]


async def test_the_webhook_channel_keeps_one_connection_for_its_pages(tocsin_config, tocsin_plugins, tocsin_clock):
    receiver = Receiver()
    await receiver.start()
    try:
        url = receiver.script("/hook")
        tocsin_config.channel("webhook", allow_networks=["127.0.0.1/32"])
        tocsin_config.policy(id="p", levels=[{"targets": [{"type": "webhook", "url": url}]}])
        running = engine(tocsin_config.build(), tocsin_plugins, tocsin_clock)
        await running.outbox.start()
        for number in range(3):
            page(running, tocsin_clock, f"inc-{number}")
            await running.outbox.flush()
        await running.outbox.aclose()
    finally:
        await receiver.stop()
    requests = receiver.on("/hook")
    assert len(requests) == 3
    assert len({request.peer for request in requests}) == 1  # one session, its connection reused
