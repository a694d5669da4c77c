"""Playbooks over HTTP: a rule's ``apply_playbook`` is answered as queued by ``POST /v1/incidents`` and runs once,
through the outbox, as a signed POST to a webhook receiver on 127.0.0.1; its answer is in the escalation's history.
Retries keep the same webhook-id, a permanent failure is dead-lettered, and the SSRF policy holds for playbooks too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.delivery_receiver import Receiver, Reply
from support.server import CONFIG, READER, RESPONDER, START, ServerThread, bearer, eventually, load

import tocsin
from tocsin.delivery.webhook.signing import verify, webhook_id
from tocsin.server import create_app, memory_storage, sqlite_storage

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DB_OUTAGE = {"title": "DB down", "severity": "P1", "labels": {"service": "db"}, "dedup_key": "db-down"}


def playbook_config(receiver: Receiver, **restart: Any) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["playbooks"] = {
        "restart-db": {
            "type": "webhook",
            "url": receiver.url("/restart-db"),
            "parameters": {"service": "db", "grace_seconds": 30},
            "secrets": [SECRET],
            "allow_networks": ["127.0.0.1/32"],
            **restart,
        },
        "unguarded": {"type": "webhook", "url": receiver.url("/unguarded")},  # loopback, not allowed
    }
    document["rules"].append(
        {
            "name": "Heal the database",
            "priority": 50,
            "conditions": [{"field": "labels.service", "operator": "equals", "value": "db"}],
            "actions": [{"type": "apply_playbook", "playbook_id": "restart-db"}],
        }
    )
    document["rules"].append(
        {
            "name": "Try the unguarded one",
            "priority": 40,
            "conditions": [{"field": "labels.service", "operator": "equals", "value": "cache"}],
            "actions": [{"type": "apply_playbook", "playbook_id": "unguarded"}],
        }
    )
    return document


def serve(document: dict[str, Any], kind: str, tmp_path: Path, clock: tocsin.ManualClock) -> ServerThread:
    plugins = tocsin.load_plugins()
    if kind == "memory":
        storage = memory_storage()
    else:
        storage = sqlite_storage(str(tmp_path / "tocsin.db"), plugins.registry, clock)
    return ServerThread(create_app(load(document, plugins), plugins, storage=storage, clock=clock))


async def sent(server: ServerThread, key: str) -> None:
    """Wait until the outbox has recorded the receiver's answer to ``key`` as sent."""
    store = server.service.storage.escalations

    def status() -> tocsin.DeliveryStatus | None:
        delivery = server.call(lambda: store.delivery(key))
        return delivery.status if delivery is not None else None

    await eventually(lambda: status() is tocsin.DeliveryStatus.SENT)


async def post_json(http: aiohttp.ClientSession, path: str, body: Any) -> tuple[int, Any]:
    async with http.post(path, json=body, headers=bearer(RESPONDER)) as answer:
        return answer.status, await answer.json()


async def get_json(http: aiohttp.ClientSession, path: str) -> Any:
    async with http.get(path, headers=bearer(READER)) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_playbook_is_answered_as_queued_and_runs_once_as_a_signed_post(kind, tmp_path, receiver):
    clock = tocsin.ManualClock(START)
    server = serve(playbook_config(receiver), kind, tmp_path, clock)
    try:
        with server:
            async with aiohttp.ClientSession(server.url) as http:
                status, created = await post_json(http, "/v1/incidents", DB_OUTAGE)
                incident_id = created["incident"]["id"]
                await sent(server, f"{incident_id}/playbook/restart-db")
                repeat_status, repeat = await post_json(http, "/v1/incidents", DB_OUTAGE)
                history = await get_json(http, f"/v1/escalations/{incident_id}")
    finally:
        server.service.storage.close()

    assert status == 201
    assert created["actions"] == [
        {
            "rule": "Heal the database",
            "action": "apply_playbook",
            "status": "queued",
            "detail": "playbook 'restart-db' (webhook) queued: it runs through the outbox once the incident is saved",
        }
    ]
    (request,) = receiver.on("/restart-db")
    verify([SECRET], request.headers, request.body)  # signed with the playbook's secret
    key = f"{incident_id}/playbook/restart-db"
    assert request.headers["webhook-id"] == request.headers["Idempotency-Key"] == webhook_id(key)
    body = json.loads(request.body)
    assert {name: body[name] for name in ("version", "event", "playbook_id", "idempotency_key", "parameters")} == {
        "version": 1,
        "event": "playbook.run",
        "playbook_id": "restart-db",
        "idempotency_key": key,
        "parameters": {"service": "db", "grace_seconds": 30},
    }
    assert body["incident"]["id"] == incident_id and body["incident"]["labels"] == {"service": "db"}
    assert body["requested_at"] == START.isoformat()

    assert repeat_status == 200 and repeat["duplicate"] is True and repeat["actions"] == []
    assert len(receiver.on("/restart-db")) == 1  # a repeat of the alert starts nothing again
    (run,) = [d for d in history["deliveries"] if d["notification"]["recipient"]["channel"] == "playbook"]
    assert run["notification"]["key"] == key
    assert run["notification"]["recipient"] == {
        "address": "restart-db",
        "channel": "playbook",
        "target": "playbook",
        "contact": None,
        "urgency": "high",
        "contact_number": 0,
    }
    assert run["status"] == "sent" and run["result"]["ok"] and run["result"]["detail"].startswith("HTTP 200")


async def test_the_run_of_an_incident_no_escalation_started_is_in_its_timeline(tmp_path, receiver):
    clock = tocsin.ManualClock(START)
    server = serve(playbook_config(receiver), "sqlite", tmp_path, clock)
    quiet = {**DB_OUTAGE, "severity": "P4", "dedup_key": "db-slow"}  # no policy takes P4: nobody is paged
    try:
        with server:
            async with aiohttp.ClientSession(server.url) as http:
                status, created = await post_json(http, "/v1/incidents", quiet)
                incident_id = created["incident"]["id"]
                await sent(server, f"{incident_id}/playbook/restart-db")
                timeline = await get_json(http, f"/v1/incidents/{incident_id}/timeline")
    finally:
        server.service.storage.close()
    assert status == 201 and created["escalation"] is None
    runs = [entry for entry in timeline["entries"] if entry["source"] == "delivery"]
    assert [(run["kind"], run["channel"], run["recipient"], run["escalation_id"]) for run in runs] == [
        ("delivered", "playbook", "restart-db", None)
    ]


async def test_a_failed_run_is_retried_under_the_same_webhook_id_and_a_refused_one_is_dead_lettered(receiver):
    receiver.script("/restart-db", Reply(status=503), Reply(status=200))
    clock = tocsin.ManualClock(START)
    server = serve(playbook_config(receiver), "memory", Path(), clock)
    outbox = server.service.engine.outbox
    with server:
        async with aiohttp.ClientSession(server.url) as http:
            _, db = await post_json(http, "/v1/incidents", DB_OUTAGE)
            await eventually(lambda: server.call(lambda: outbox.next_retry_at()))  # the 503 is answered
            server.advance(clock, minutes=10)
            server.call(outbox.wake)
            await sent(server, f"{db['incident']['id']}/playbook/restart-db")
            cold_cache = {"title": "Cache cold", "severity": "P3", "labels": {"service": "cache"}}
            _, cache = await post_json(http, "/v1/incidents", cold_cache)
            dead = await eventually(lambda: server.call(lambda: server.service.storage.escalations.dead_letters()))
            history = await get_json(http, f"/v1/escalations/{db['incident']['id']}")

    first, second = receiver.on("/restart-db")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    (run,) = [d for d in history["deliveries"] if d["notification"]["recipient"]["channel"] == "playbook"]
    assert (run["status"], run["attempts"]) == ("sent", 2)
    assert cache["actions"][0]["status"] == "queued" and cache["policy_id"] is None
    assert receiver.on("/unguarded") == []  # loopback without allow_networks: never dialled
    (refused,) = dead
    assert refused.notification.key == f"{cache['incident']['id']}/playbook/unguarded"
    assert not refused.result.retryable and "127.0.0.1" in refused.result.detail


async def test_the_rules_dry_run_says_it_would_queue_and_starts_nothing(receiver):
    clock = tocsin.ManualClock(START)
    server = serve(playbook_config(receiver), "memory", Path(), clock)
    with server:
        async with aiohttp.ClientSession(server.url) as http:
            status, explained = await post_json(http, "/v1/rules/evaluate", {"incident": DB_OUTAGE})
    assert status == 200, explained
    (rule,) = [entry for entry in explained["explain"] if entry["rule"] == "Heal the database"]
    assert rule["actions"] == [
        {
            "rule": "Heal the database",
            "action": "apply_playbook",
            "status": "applied",
            "detail": "would queue playbook 'restart-db' (webhook) (dry run)",
        }
    ]
    assert receiver.requests == []
