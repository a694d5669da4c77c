"""The outbox against a real webhook receiver on 127.0.0.1, on a manual clock: retries with backoff, Retry-After,
timeouts, dead letters, 410 disabling an endpoint, SSRF refusals, signatures a Standard Webhooks library accepts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from structlog.testing import capture_logs
from support.delivery_receiver import ConnectionSpy, Reply
from support.store import START, open_stores, plugins

import tocsin
from tocsin.delivery.webhook.signing import webhook_id

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


@pytest.fixture(params=["sqlite", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from open_stores(request.param, tmp_path)


def build(
    stores: Any, urls: list[str], *, delivery: dict[str, Any] | None = None, **webhook: Any
) -> tocsin.EscalationEngine:
    """An engine from a config: one policy whose level 0 POSTs to each of ``urls``; 127.0.0.1 allowed."""
    webhook.setdefault("allow_networks", ["127.0.0.1/32"])
    webhook.setdefault("secrets", [SECRET])
    document = {
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "webhook", "url": url} for url in urls]}]}],
        "channels": {"webhook": webhook},
        "delivery": {"base_seconds": 10, "cap_seconds": 120, "max_attempts": 4, **(delivery or {})},
    }
    config = tocsin.parse_config(document, plugins().registry)
    return tocsin.EscalationEngine.from_config(config, plugins(), store=stores.escalations, clock=stores.clock)


def page(engine: tocsin.EscalationEngine, incident_id: str = "inc-1") -> None:
    engine.start_escalation(tocsin.Incident(id=incident_id, title="Disk full", severity="P1", created_at=START), "p")


def deliveries(engine: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[tocsin.Delivery]:
    return list(engine.get_escalation_state(incident_id).deliveries)


async def retry_when_due(engine: tocsin.EscalationEngine, clock: tocsin.ManualClock) -> None:
    """Move the clock to the next scheduled attempt and deliver what is due then."""
    due = engine.store.next_delivery_at()
    assert due is not None, "no retry is scheduled"
    clock.set(max(due, clock.now()))
    await engine.outbox.deliver_due()


async def test_a_500_is_retried_with_backoff_under_the_same_webhook_id_until_delivered(stores, receiver):
    url = receiver.script("/hook", Reply(status=500), Reply(status=502))
    engine = build(stores, [url])
    page(engine)
    await engine.outbox.flush()
    (first,) = deliveries(engine)
    assert (first.status.value, first.attempts, first.result.detail) == ("failed", 1, "HTTP 500 Internal Server Error")
    assert START < first.next_attempt_at <= START + timedelta(seconds=10)  # full jitter under base_seconds
    await engine.outbox.deliver_due()  # not due yet: nothing is sent
    assert len(receiver.on("/hook")) == 1
    await retry_when_due(engine, stores.clock)
    (second,) = deliveries(engine)
    assert (second.status.value, second.attempts) == ("failed", 2)
    assert second.next_attempt_at <= stores.clock.now() + timedelta(seconds=20)  # the ceiling doubled
    await retry_when_due(engine, stores.clock)
    (done,) = deliveries(engine)
    assert (done.status.value, done.attempts, done.result.detail) == ("sent", 3, "HTTP 200 OK")
    ids = {request.headers["webhook-id"] for request in receiver.on("/hook")}
    assert ids == {webhook_id(done.notification.key)} and len(receiver.on("/hook")) == 3
    log = engine.store.delivery_log(done.notification.key)
    assert [(r.attempts, r.ok, r.detail) for r in log] == [
        (1, False, "HTTP 500 Internal Server Error"),
        (2, False, "HTTP 502 Bad Gateway"),
        (3, True, "HTTP 200 OK"),
    ]


async def test_retry_after_on_429_and_503_sets_the_next_attempt_exactly(stores, receiver):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    url = receiver.script(
        "/hook", Reply(status=429, headers={"Retry-After": "45"}), Reply(status=503, headers={"Retry-After": later})
    )
    engine = build(stores, [url])
    page(engine)
    await engine.outbox.flush()
    assert deliveries(engine)[0].next_attempt_at == START + timedelta(seconds=45)
    stores.clock.set(START + timedelta(seconds=44))
    await engine.outbox.deliver_due()
    assert len(receiver.on("/hook")) == 1  # the receiver asked for 45 seconds
    stores.clock.set(START + timedelta(seconds=45))
    await engine.outbox.deliver_due()
    (after_503,) = deliveries(engine)
    wait = (after_503.next_attempt_at - stores.clock.now()).total_seconds()
    assert after_503.result.detail == "HTTP 503 Service Unavailable" and 85 <= wait <= 90  # the HTTP date, honoured
    await retry_when_due(engine, stores.clock)
    assert deliveries(engine)[0].status is tocsin.DeliveryStatus.SENT


async def test_a_receiver_that_never_answers_times_out_and_is_retried(stores, receiver):
    url = receiver.script("/hook", Reply(hold=True))
    engine = build(stores, [url], timeout_seconds=0.2)
    page(engine)
    await engine.outbox.flush()
    (timed_out,) = deliveries(engine)
    assert timed_out.status is tocsin.DeliveryStatus.FAILED
    assert timed_out.result.detail == f"POST {url} failed: no answer within 0.2s"
    await retry_when_due(engine, stores.clock)
    assert deliveries(engine)[0].status is tocsin.DeliveryStatus.SENT


async def test_after_the_last_attempt_a_notification_is_dead_lettered_and_logged(stores, receiver):
    url = receiver.script("/hook", *[Reply(status=500)] * 5)
    engine = build(stores, [url], delivery={"max_attempts": 3})
    page(engine)
    with capture_logs() as logs:
        await engine.outbox.flush()
        await retry_when_due(engine, stores.clock)
        await retry_when_due(engine, stores.clock)
    (dead,) = deliveries(engine)
    assert (dead.status.value, dead.attempts) == ("dead", 3)
    assert dead.result.detail == "HTTP 500 Internal Server Error (gave up after 3 attempts)"
    assert engine.store.dead_letters() == [dead]
    assert engine.store.next_delivery_at() is None and len(receiver.on("/hook")) == 3
    (entry,) = [entry for entry in logs if entry["event"] == "notification dead-lettered"]
    assert entry["key"] == dead.notification.key and entry["attempts"] == 3 and entry["log_level"] == "warning"


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (Reply(status=404), "HTTP 404 Not Found"),
        (Reply(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"}), "redirect to"),
    ],
)
async def test_an_answer_no_retry_can_fix_is_dead_at_once_and_a_redirect_is_not_followed(
    stores, receiver, reply, detail
):
    url = receiver.script("/hook", reply)
    engine = build(stores, [url])
    page(engine)
    await engine.outbox.flush()
    (dead,) = deliveries(engine)
    assert dead.status is tocsin.DeliveryStatus.DEAD and detail in dead.result.detail
    assert [request.path for request in receiver.requests] == ["/hook"]


async def test_410_disables_the_endpoint_and_later_pages_to_it_fail_fast(stores, receiver):
    gone = receiver.script("/gone", Reply(status=410))
    fine = receiver.script("/fine")
    engine = build(stores, [gone, fine])
    page(engine, "inc-1")
    await engine.outbox.flush()
    assert {d.notification.recipient.address: d.status.value for d in deliveries(engine, "inc-1")} == {
        gone: "dead",
        fine: "sent",
    }
    reason = engine.store.disabled_endpoints()[("webhook", gone)]
    assert reason == f"endpoint {gone} is disabled: HTTP 410 Gone: the endpoint is gone"
    page(engine, "inc-2")
    await engine.outbox.flush()
    later = {d.notification.recipient.address: d for d in deliveries(engine, "inc-2")}
    assert (later[gone].status.value, later[gone].result.detail) == ("dead", reason)
    assert later[fine].status is tocsin.DeliveryStatus.SENT
    assert len(receiver.on("/gone")) == 1 and len(receiver.on("/fine")) == 2  # nothing more went to /gone
    restarted = build(stores.reopen(), [gone, fine])
    assert restarted.store.disabled_endpoints() == {("webhook", gone): reason}


async def test_a_slow_endpoint_holds_up_neither_other_endpoints_nor_the_timer(stores, receiver):
    slow = receiver.script("/slow", Reply(hold=True))
    fast = receiver.script("/fast")
    config = {
        "policies": [
            {
                "id": "p",
                "levels": [
                    {"targets": [{"type": "webhook", "url": slow}, {"type": "webhook", "url": fast}]},
                    {"delay_minutes": 5, "targets": [{"type": "webhook", "url": fast}]},
                ],
            }
        ],
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 30}},
    }
    engine = tocsin.EscalationEngine.from_config(
        tocsin.parse_config(config, plugins().registry), plugins(), store=stores.escalations, clock=stores.clock
    )
    monitor = asyncio.create_task(engine.run_monitor())
    try:
        page(engine)
        await until(lambda: len(receiver.on("/fast")) == 1 and len(receiver.on("/slow")) == 1)
        stores.clock.advance(minutes=5)
        engine.monitor.wake()
        await until(lambda: len(receiver.on("/fast")) == 2)
        # The receiver sees the request before the outbox has its answer: wait for the answer to be recorded.
        await until(lambda: deliveries(engine)[2].status is tocsin.DeliveryStatus.SENT)
        assert [d.status.value for d in deliveries(engine)] == ["sending", "sent", "sent"]
        receiver.released.set()
        await until(lambda: deliveries(engine)[0].status is tocsin.DeliveryStatus.SENT)
    finally:
        engine.stop_monitor()
        await monitor
        await engine.outbox.aclose()


async def test_signatures_verify_with_the_standardwebhooks_package_also_during_rotation(stores, receiver):
    url = receiver.script("/hook")
    engine = build(stores, [url], secrets=[NEW_SECRET, SECRET], headers={"X-Team": "db"})
    page(engine)
    await engine.outbox.flush()
    (request,) = receiver.on("/hook")
    for secret in (SECRET, NEW_SECRET):  # a receiver that knows either secret accepts the message
        assert Webhook(secret).verify(request.body, request.headers) == json.loads(request.body)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    payload = json.loads(request.body)
    assert payload["version"] == 1 and payload["idempotency_key"] == "inc-1#1/r0/p0/l0/webhook/" + url
    assert request.headers["webhook-id"] == request.headers["Idempotency-Key"] == webhook_id(payload["idempotency_key"])
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-team"] == "db" and headers["content-type"] == "application/json"


def test_webhook_ids_are_stable_and_free_of_forbidden_characters():
    key = "inc 1#1/r0/p0/l0/webhook/https://hooks.example.com/a,b"
    assert webhook_id(key) == webhook_id(key) != webhook_id(key + "x")
    assert webhook_id(key).startswith("msg_") and webhook_id(key)[4:].isalnum() and len(webhook_id(key)) == 36


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",  # loopback, not allow-listed here
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
        "http://2130706433:{port}/hook",  # 127.0.0.1 written as a number
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/hook",
    ],
)
async def test_ssrf_vectors_are_refused_without_a_connection(stores, receiver, url, monkeypatch):
    spy = ConnectionSpy(asyncio.get_running_loop())
    monkeypatch.setattr(asyncio.get_running_loop(), "sock_connect", spy.sock_connect)
    target = url.format(port=receiver.port)
    engine = build(stores, [target], allow_networks=[])
    page(engine)
    await engine.outbox.flush()
    (refused,) = deliveries(engine)
    assert refused.status is tocsin.DeliveryStatus.DEAD
    assert "refused destination" in refused.result.detail
    assert receiver.requests == [] and spy.outside == []


async def test_metadata_endpoints_stay_refused_even_when_allow_listed(stores, receiver):
    engine = build(stores, ["http://169.254.169.254/latest/meta-data/"], allow_networks=["169.254.0.0/16"])
    page(engine)
    await engine.outbox.flush()
    (refused,) = deliveries(engine)
    assert refused.status is tocsin.DeliveryStatus.DEAD and "metadata" in refused.result.detail


def test_delivery_and_webhook_settings_are_checked_when_the_config_loads():
    def faults(document: dict[str, Any]) -> list[str]:
        with pytest.raises(tocsin.ConfigError) as caught:
            tocsin.parse_config(document, plugins().registry, source="tocsin.yaml")
        return str(caught.value).splitlines()

    assert faults({"delivery": {"max_attempts": 0}, "channels": {"webhook": {"secrets": ["not-a-secret"]}}}) == [
        "tocsin.yaml: $.delivery.max_attempts: must be 1 or more, got 0",
        "tocsin.yaml: $.channels.webhook.secrets[0]: a webhook secret string must look like 'whsec_<base64>' "
        "(or pass the raw key as bytes)",
    ]
    (bad_network,) = faults({"channels": {"webhook": {"allow_networks": ["127.0.0.1/32", "10.0.0.1/8"]}}})
    assert bad_network.startswith("tocsin.yaml: $.channels.webhook.allow_networks[1]: ")
    assert "did you mean 10.0.0.0/8?" in bad_network
    assert faults({"delivery": {"lease_seconds": 5, "timeout_seconds": 10}}) == [
        "tocsin.yaml: $.delivery.lease_seconds: must be more than timeout_seconds (10), got 5: "
        "a claim must outlast the attempt it covers"
    ]


async def until(condition, *, seconds: float = 5.0) -> None:
    """Wait (in real time, for real sockets) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


async def test_without_secrets_a_webhook_goes_out_unsigned_with_a_warning_and_headers_cannot_forge_its_id(
    stores, receiver
):
    url = receiver.script("/hook")
    with capture_logs() as logs:
        engine = build(stores, [url], secrets=[], headers={"webhook-id": "forged", "Content-Type": "text/plain"})
        page(engine)
        await engine.outbox.flush()
    (request,) = receiver.on("/hook")
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert "webhook-signature" not in headers and headers["webhook-timestamp"].isdigit()
    assert headers["webhook-id"] == webhook_id(deliveries(engine)[0].notification.key)
    assert headers["content-type"] == "application/json"
    assert deliveries(engine)[0].status is tocsin.DeliveryStatus.SENT
    assert any("unsigned" in entry["event"] for entry in logs)


class FlakyStore(tocsin.InMemoryStore):
    """An in-memory store whose first claim fails, like a database that was briefly unavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def claim(self, key, *, now=None, lease_seconds=None):
        if self.failures:
            self.failures -= 1
            raise tocsin.StoreError("store tocsin.db: database is locked")
        return super().claim(key, now=now, lease_seconds=lease_seconds)


async def test_a_store_fault_during_delivery_is_logged_and_the_page_goes_out_at_the_next_look():
    sink = tocsin.MemorySink()
    clock = tocsin.ManualClock(START)
    store = FlakyStore()
    engine = tocsin.EscalationEngine(
        plugins(), store, clock=clock, channels=tocsin.ChannelSet(plugins().registry, every_channel=sink)
    )
    engine.register_policy(
        tocsin.EscalationPolicy(
            id="p", levels=(tocsin.EscalationLevel(targets=(plugins().registry.targets.get("user").cls(email="a@x"),)),)
        )
    )
    with capture_logs() as logs:
        page(engine)
        await engine.outbox.flush()
    assert sink.notifications == [] and [e["event"] for e in logs if e["log_level"] == "error"] == [
        "delivery failed before an answer was recorded"
    ]
    assert deliveries(engine)[0].status is tocsin.DeliveryStatus.PENDING  # still in the outbox
    await engine.outbox.deliver_due()
    assert [n.recipient.address for n in sink.notifications] == ["a@x"]
