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


def mail_engine(stores: Any, port: int, **email: Any) -> tocsin.EscalationEngine:
    document = {
        "users": {"a@example.com": {"contacts": [{"type": "email"}]}},
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": "a@example.com"}]}]}],
        "channels": {
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "from_address": "tocsin@example.com",
                "timeout_seconds": 2,
                **email,
            }
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


async def test_the_smtp_password_is_read_from_the_variable_password_env_names(stores, monkeypatch):
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret-from-the-environment")

    mailbox = ScriptedMailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        monkeypatch.setenv("TOCSIN_TEST_SMTP_PASSWORD", "s3cret-from-the-environment")
        engine = mail_engine(stores, controller.port, username="tocsin", password_env="TOCSIN_TEST_SMTP_PASSWORD")
        start(engine)
        await engine.outbox.flush()
        await engine.outbox.aclose()
    finally:
        controller.stop()
    assert logins == [("tocsin", "s3cret-from-the-environment")]
    assert mailbox.accepted == [["a@example.com"]]
    assert only_delivery(engine).status is tocsin.DeliveryStatus.SENT


async def test_an_unset_password_variable_is_named_and_the_page_is_tried_again(stores, monkeypatch):
    monkeypatch.delenv("TOCSIN_TEST_SMTP_PASSWORD", raising=False)
    engine = mail_engine(stores, free_port(), username="tocsin", password_env="TOCSIN_TEST_SMTP_PASSWORD")
    start(engine)
    await engine.outbox.flush()
    await engine.outbox.aclose()
    delivery = only_delivery(engine)
    assert delivery.status is tocsin.DeliveryStatus.FAILED  # retried: the variable may be set by the next start
    assert "TOCSIN_TEST_SMTP_PASSWORD (password_env) is not set" in delivery.result.detail


def test_a_password_given_twice_is_a_config_fault(tocsin_config):
    document = {
        "channels": {
            "email": {
                "host": "smtp.example.com",
                "from_address": "tocsin@example.com",
                "password": "in-the-file",
                "password_env": "SMTP_PASSWORD",
            }
        }
    }
    assert tocsin_config.merge(document).faults(source="tocsin.yaml") == [
        "tocsin.yaml: $.channels.email.password_env: give the password once: password_env or password, not both"
    ]
