"""E-mail on the outbox's retry path, against a real SMTP server on 127.0.0.1: a 4xx reply is retried, a 5xx one
is dead at once, a server that is down is retried."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from support.store import START, open_stores, plugins

import tocsin


class ScriptedMailbox:
    """Answers DATA from a script of SMTP replies (then accepts), keeping the messages it accepted."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.accepted: list[list[str]] = []
        self.tries = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tries += 1
        if self.replies:
            return self.replies.pop(0)
        self.accepted.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Any]:
    yield from open_stores("sqlite", tmp_path)


def mail_engine(stores: Any, port: int) -> tocsin.EscalationEngine:
    document = {
        "users": {"a@example.com": {"contacts": [{"type": "email"}]}},
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": "a@example.com"}]}]}],
        "channels": {
            "email": {"host": "127.0.0.1", "port": port, "from_address": "tocsin@example.com", "timeout_seconds": 2}
        },
        "delivery": {"base_seconds": 1, "cap_seconds": 10, "max_attempts": 3},
    }
    config = tocsin.parse_config(document, plugins().registry)
    return tocsin.EscalationEngine.from_config(config, plugins(), store=stores.escalations, clock=stores.clock)


def only_delivery(engine: tocsin.EscalationEngine) -> tocsin.Delivery:
    (delivery,) = engine.get_escalation_state("inc-1").deliveries
    return delivery


async def deliver_next(engine: tocsin.EscalationEngine, clock: tocsin.ManualClock) -> None:
    clock.set(max(engine.store.next_delivery_at(), clock.now()))
    await engine.outbox.deliver_due()


def start(engine: tocsin.EscalationEngine) -> None:
    engine.start_escalation(tocsin.Incident(id="inc-1", title="Disk full", severity="P2", created_at=START), "p")


@pytest.mark.parametrize("reply", ["451 4.3.0 Mailbox busy, try later", "421 4.7.0 Too many connections"])
async def test_a_temporary_smtp_failure_is_retried_until_accepted(stores, reply):
    mailbox = ScriptedMailbox(reply)
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        engine = mail_engine(stores, controller.port)
        start(engine)
        await engine.outbox.flush()
        failed = only_delivery(engine)
        assert failed.status is tocsin.DeliveryStatus.FAILED and reply.split()[0] in failed.result.detail
        await deliver_next(engine, stores.clock)
    finally:
        controller.stop()
    delivered = only_delivery(engine)
    assert (delivered.status, delivered.attempts) == (tocsin.DeliveryStatus.SENT, 2)
    assert mailbox.accepted == [["a@example.com"]]


async def test_a_permanent_smtp_failure_is_dead_at_once(stores):
    mailbox = ScriptedMailbox("550 5.1.1 No such user")
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        engine = mail_engine(stores, controller.port)
        start(engine)
        await engine.outbox.flush()
    finally:
        controller.stop()
    dead = only_delivery(engine)
    assert dead.status is tocsin.DeliveryStatus.DEAD and dead.attempts == 1
    assert dead.result.detail == f"SMTP 127.0.0.1:{controller.port}: 550 5.1.1 No such user"
    assert engine.store.dead_letters() == [dead] and mailbox.tries == 1


async def test_a_mail_server_that_is_down_is_retried_then_given_up(stores):
    engine = mail_engine(stores, free_port())
    start(engine)
    await engine.outbox.flush()
    await deliver_next(engine, stores.clock)
    await deliver_next(engine, stores.clock)
    dead = only_delivery(engine)
    assert (dead.status, dead.attempts) == (tocsin.DeliveryStatus.DEAD, 3)
    assert dead.result.detail.endswith("(gave up after 3 attempts)")


def test_an_smtp_host_left_empty_or_a_timeout_that_is_not_positive_is_a_config_fault(tocsin_config):
    tocsin_config.channel("email", host="", from_address="tocsin@example.com", timeout_seconds=0)
    assert tocsin_config.faults() == [
        "$.channels.email.host: must not be empty",
        "$.channels.email.timeout_seconds: must be greater than 0, got 0.0",
    ]
