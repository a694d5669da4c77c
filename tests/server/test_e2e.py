"""The API end to end: a real server on 127.0.0.1, a real webhook receiver and a real SMTP server on loopback.

An incident is raised over HTTP, pages arrive (signed webhook, e-mail), it is acknowledged and resolved, and
the escalation's notification history shows what each channel answered. Time is a manual clock, moved in the
server's own event loop.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiosmtpd.controller import Controller
from support.delivery_receiver import Receiver
from support.server import CONFIG, READER, RESPONDER, START, ServerThread, bearer, eventually, load

import tocsin
from tocsin.delivery.webhook.signing import verify
from tocsin.server import create_app, memory_storage, sqlite_storage

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Mailbox:
    """An aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def paging_config(receiver: Receiver, smtp_port: int) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["users"] = {
        "engineer1@example.com": {"contacts": [{"type": "webhook", "url": receiver.url("/engineer1")}]},
        "team-lead@example.com": {"contacts": [{"type": "email"}]},
    }
    document["channels"] = {
        "webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 5},
        "email": {"host": "127.0.0.1", "port": smtp_port, "from_address": "tocsin@example.com"},
    }
    return document


def storage_for(kind: str, tmp_path: Path, plugins: tocsin.Plugins, clock: tocsin.Clock) -> Any:
    if kind == "memory":
        return memory_storage()
    return sqlite_storage(str(tmp_path / "tocsin.db"), plugins.registry, clock)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_raise_page_acknowledge_resolve_and_read_the_delivery_history(kind, tmp_path, receiver, mailbox):
    box, smtp_port = mailbox
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    storage = storage_for(kind, tmp_path, plugins, clock)
    app = create_app(load(paging_config(receiver, smtp_port), plugins), plugins, storage=storage, clock=clock)
    incident = {"title": "High CPU", "severity": "P1", "source": "monitoring", "incident_type": "Infrastructure"}
    try:
        with ServerThread(app) as server:
            async with aiohttp.ClientSession(server.url) as http:
                async with http.post("/v1/incidents", json=incident, headers=bearer(RESPONDER)) as answer:
                    assert answer.status == 201
                    created = await answer.json()
                incident_id = created["incident"]["id"]
                assert created["policy_id"] == "standard-p1"
                assert created["escalation"]["status"] == "active"

                # Level 0: the schedule's on-call engineer gets a signed webhook.
                (page,) = await eventually(lambda: receiver.on("/engineer1"))
                verify([SECRET], page.headers, page.body)
                payload = json.loads(page.body)
                assert (payload["incident"]["id"], payload["level"], payload["event"]) == (
                    incident_id,
                    0,
                    "escalation.page",
                )

                # Five minutes later, level 1: the team lead gets an e-mail.
                server.advance(clock, minutes=5)
                (message,) = await eventually(lambda: box.messages)
                assert message["To"] == "team-lead@example.com"
                assert "High CPU" in message["Subject"] and "escalation level 1" in message["Subject"]

                body = {"by": "engineer1@example.com"}
                async with http.post(
                    f"/v1/incidents/{incident_id}/acknowledge", json=body, headers=bearer(RESPONDER)
                ) as answer:
                    assert answer.status == 200
                    acked = await answer.json()
                assert acked["escalation"]["status"] == "acknowledged"
                assert acked["escalation"]["acknowledged_by"] == "engineer1@example.com"

                # Level 2 (minute 15) and the repeat would page the team; acknowledged, nobody else is paged.
                server.advance(clock, minutes=60)
                async with http.post(f"/v1/incidents/{incident_id}/resolve", headers=bearer(RESPONDER)) as answer:
                    assert answer.status == 200
                    resolved = await answer.json()
                assert resolved["incident"]["state"] == "Resolved"
                assert resolved["escalation"]["status"] == "resolved"

                async with http.get(f"/v1/escalations/{incident_id}", headers=bearer(READER)) as answer:
                    assert answer.status == 200
                    history = await answer.json()
                async with http.get("/metrics") as answer:
                    metrics = await answer.text()
    finally:
        storage.close()

    assert len(receiver.requests) == 1 and len(box.messages) == 1
    deliveries = history["deliveries"]
    assert [(d["notification"]["level"], d["notification"]["recipient"]["channel"]) for d in deliveries] == [
        (0, "webhook"),
        (1, "email"),
    ]
    assert all(d["status"] == "sent" and d["result"]["ok"] for d in deliveries)
    assert deliveries[0]["result"]["detail"].startswith("HTTP 200")
    assert deliveries[0]["notification"]["recipient"]["contact"] is None  # contact details stay private
    kinds = [event["kind"] for event in history["events"]]
    assert kinds[0] == "started" and kinds[-2:] == ["acknowledged", "resolved"]
    assert history["ended_at"] == (START + timedelta(minutes=65)).isoformat()
    assert 'tocsin_notifications_total{channel="webhook",result="sent"} 1.0' in metrics
    assert 'tocsin_notifications_total{channel="email",result="sent"} 1.0' in metrics
    assert 'tocsin_escalations{status="resolved"} 1.0' in metrics
    assert 'tocsin_incidents{state="Resolved"} 1.0' in metrics


async def test_a_restarted_server_on_the_same_sqlite_file_keeps_incidents_and_escalations(tmp_path):
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    config = load(CONFIG, plugins)
    incident = {"title": "Disk full", "severity": "P1", "dedup_key": "disk-full/db1"}

    def serve() -> ServerThread:
        storage = sqlite_storage(str(tmp_path / "state.db"), plugins.registry, clock)
        return ServerThread(create_app(config, plugins, storage=storage, clock=clock))

    first = serve()
    with first:
        async with (
            aiohttp.ClientSession(first.url) as http,
            http.post("/v1/incidents", json=incident, headers=bearer(RESPONDER)) as answer,
        ):
            incident_id = (await answer.json())["incident"]["id"]
    first.service.storage.close()

    second = serve()
    with second:
        async with aiohttp.ClientSession(second.url) as http:
            async with http.post("/v1/incidents", json=incident, headers=bearer(RESPONDER)) as answer:
                repeat = (answer.status, await answer.json())
            second.advance(clock, minutes=5)
            async with http.get(f"/v1/escalations/{incident_id}", headers=bearer(READER)) as answer:
                state = await answer.json()
    second.service.storage.close()

    assert repeat[0] == 200 and repeat[1]["duplicate"] is True and repeat[1]["incident"]["id"] == incident_id
    assert state["status"] == "active"
    fired = [(d["notification"]["level"], d["notification"]["recipient"]["address"]) for d in state["deliveries"]]
    assert fired == [(0, "engineer1@example.com"), (1, "team-lead@example.com")]
