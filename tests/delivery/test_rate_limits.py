"""Rate limits per contact, through the outbox to a real webhook receiver on 127.0.0.1, on a manual clock: what
the window holds goes out, the rest is folded (journalled, not dropped) and goes out as ONE summary when a slot
frees; a restart neither resets the window nor loses a folded page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.delivery_receiver import Receiver
from support.store import START, open_stores, plugins

import tocsin

MINUTE = timedelta(minutes=1)


@pytest.fixture(params=["sqlite", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from open_stores(request.param, tmp_path)


BUILT: list[tocsin.EscalationEngine] = []


@pytest.fixture(autouse=True)
async def _close_senders() -> AsyncIterator[None]:
    yield
    while BUILT:
        await BUILT.pop().outbox.aclose()


def build(stores: Any, receiver: Receiver, limit: dict[str, Any] | None) -> tocsin.EscalationEngine:
    """One person, paged by webhook; the webhook channel limited to ``limit`` per contact."""
    document = {
        "users": {"eng1@example.com": {"contacts": [{"type": "webhook", "url": receiver.url("/eng1")}]}},
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": "eng1@example.com"}]}]}],
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"]}},
        "delivery": {"rate_limits": {"webhook": limit} if limit else {}},
    }
    config = tocsin.parse_config(document, plugins().registry)
    engine = tocsin.EscalationEngine.from_config(config, plugins(), store=stores.escalations, clock=stores.clock)
    BUILT.append(engine)
    return engine


def raise_incidents(engine: tocsin.EscalationEngine, *numbers: int) -> None:
    for number in numbers:
        incident = tocsin.Incident(id=f"inc-{number}", title=f"Disk {number} full", severity="P1", created_at=START)
        engine.start_escalation(incident, "p")


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.on("/eng1")]


async def test_over_the_limit_pages_are_folded_into_one_summary_when_a_slot_frees(stores, receiver):
    engine = build(stores, receiver, {"messages": 2, "minutes": 10})
    raise_incidents(engine, 1, 2, 3, 4, 5)
    await engine.outbox.flush()
    assert [body["incident"]["id"] for body in bodies(receiver)] == ["inc-1", "inc-2"]
    for number in (3, 4, 5):
        state = engine.get_escalation_state(f"inc-{number}")
        (delivery,) = state.deliveries
        assert delivery.status is tocsin.DeliveryStatus.FOLDED
        (held,) = [event for event in state.events if event.kind == "rate_limited"]
        assert held.detail.startswith("page to eng1@example.com: held back by the webhook rate limit (2 per 10 min")
    assert engine.store.next_delivery_at() == START + 10 * MINUTE

    stores.clock.set(START + 9 * MINUTE)
    await engine.outbox.deliver_due()
    assert len(receiver.on("/eng1")) == 2  # still inside the window

    stores.clock.set(START + 10 * MINUTE)
    await engine.outbox.deliver_due()
    summary = bodies(receiver)[2]
    assert summary["event"] == "rate_limit.summary"
    assert [page["incident_id"] for page in summary["folded"]] == ["inc-3", "inc-4", "inc-5"]
    assert summary["recipient"]["address"] == "eng1@example.com"
    assert engine.store.delivery(summary["idempotency_key"]).status is tocsin.DeliveryStatus.SENT

    stores.clock.set(START + 60 * MINUTE)
    await engine.outbox.deliver_due()
    assert len(receiver.on("/eng1")) == 3  # one summary, sent once


async def test_a_summary_leaves_out_the_pages_of_incidents_resolved_meanwhile(stores, receiver):
    engine = build(stores, receiver, {"messages": 2, "minutes": 10})
    raise_incidents(engine, 1, 2, 3, 4, 5)
    await engine.outbox.flush()
    engine.resolve_escalation("inc-4", by="eng1@example.com")
    stores.clock.set(START + 10 * MINUTE)
    await engine.outbox.deliver_due()
    summary = bodies(receiver)[2]
    assert [page["incident_id"] for page in summary["folded"]] == ["inc-3", "inc-5"]  # nobody is paged for inc-4


async def test_no_summary_goes_out_when_every_folded_incident_was_resolved_and_the_slot_stays_free(stores, receiver):
    engine = build(stores, receiver, {"messages": 2, "minutes": 10})
    raise_incidents(engine, 1, 2, 3, 4)
    await engine.outbox.flush()
    for number in (3, 4):
        engine.resolve_escalation(f"inc-{number}", by="eng1@example.com")
    stores.clock.set(START + 10 * MINUTE)
    await engine.outbox.deliver_due()
    assert [body["incident"]["id"] for body in bodies(receiver)] == ["inc-1", "inc-2"]  # no summary
    stores.clock.set(START + 11 * MINUTE)
    raise_incidents(engine, 6, 7)
    await engine.outbox.flush()
    assert [body["incident"]["id"] for body in bodies(receiver)[2:]] == ["inc-6", "inc-7"]  # both slots were free
    stores.clock.set(START + 60 * MINUTE)
    await engine.outbox.deliver_due()
    assert len(receiver.on("/eng1")) == 4


async def test_without_a_limit_every_page_goes_out(stores, receiver):
    engine = build(stores, receiver, None)
    raise_incidents(engine, 1, 2, 3, 4, 5)
    await engine.outbox.flush()
    assert len(receiver.on("/eng1")) == 5


@pytest.fixture
def sqlite_stores(tmp_path: Path) -> Iterator[Any]:
    yield from open_stores("sqlite", tmp_path)


async def test_a_restart_keeps_the_window_and_the_folded_pages(sqlite_stores, receiver):
    stores = sqlite_stores
    engine = build(stores, receiver, {"messages": 1, "minutes": 10})
    raise_incidents(engine, 1, 2)
    await engine.outbox.flush()
    assert len(receiver.on("/eng1")) == 1

    restarted = stores.reopen()
    engine = build(restarted, receiver, {"messages": 1, "minutes": 10})
    raise_incidents(engine, 3)  # the window did not reset: folded as well
    await engine.outbox.flush()
    assert len(receiver.on("/eng1")) == 1
    restarted.clock.set(START + 10 * MINUTE)
    await engine.outbox.deliver_due()
    summary = bodies(receiver)[1]
    assert [page["incident_id"] for page in summary["folded"]] == ["inc-2", "inc-3"]
