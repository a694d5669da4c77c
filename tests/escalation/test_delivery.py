"""The outbox and the channels: real results, isolation of slow or failing channels, real receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from typing import Any, ClassVar

import attrs
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs
from support.escalation import START, at, engine, incident, level, policy, team, user

import tocsin
from tocsin.plugins.channel_email import EmailContact, EmailSettings
from tocsin.plugins.channel_webhook import WebhookContact, WebhookSettings
from tocsin.targets.webhook import WebhookTarget

# --- receivers ------------------------------------------------------------------------------------------


class WebhookReceiver:
    """An aiohttp server on 127.0.0.1 that records JSON bodies and answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(json.loads(await request.read()))
        self.headers.append(dict(request.headers))
        return web.Response(status=self.status)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


# --- a controllable channel ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PagerContact:
    type: ClassVar[str] = "pager"


class GatedSender:
    """Delivers only when ``gate`` opens (or raises, when told to)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []
        self.fail_with: Exception | None = None

    async def deliver(self, notification: tocsin.Notification) -> tocsin.DeliveryResult:
        self.started.append(notification.recipient.address)
        if self.fail_with is not None:
            raise self.fail_with
        await self.gate.wait()
        return tocsin.DeliveryResult(key=notification.key, ok=True, detail="paged")


def pager_plugin(sender: GatedSender) -> Any:
    class Plugin:
        __name__ = "pager-test"

        @tocsin.hookimpl
        def tocsin_register_channels(self, register: tocsin.ChannelRegistrar) -> None:
            register(PagerContact, create=lambda settings: sender)

    return Plugin()


def statuses(eng: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[tuple[str, str, str]]:
    state = eng.get_escalation_state(incident_id)
    return [
        (d.notification.recipient.address, d.status.value, d.result.detail if d.result else "")
        for d in state.deliveries
    ]


# --- webhook -------------------------------------------------------------------------------------------


def loopback_webhooks() -> tocsin.ChannelSet:
    """Channels whose webhooks may reach 127.0.0.1 (refused by the SSRF policy unless allow-listed)."""
    settings = WebhookSettings(allow_networks=("127.0.0.1/32",))
    return tocsin.ChannelSet(engine().plugins.registry, {"webhook": settings})


async def test_the_webhook_channel_posts_the_versioned_payload_and_records_the_answer():
    async with WebhookReceiver() as receiver:
        eng = engine(channels=loopback_webhooks())
        eng.executor().register_user("a@x", contacts=[WebhookContact(url=receiver.url)])
        eng.register_policy(policy("p", level(0, user("a@x"))))
        eng.start_escalation(incident(labels={"team": "db"}), "p")
        assert statuses(eng) == [("a@x", "pending", "")]  # queued is not delivered
        await eng.outbox.flush()
        await eng.outbox.aclose()
    (body,) = receiver.bodies
    assert body["version"] == tocsin.PAYLOAD_VERSION == 1
    assert body["event"] == "escalation.page"
    assert body["idempotency_key"] == "inc-1#1/r0/p0/l0/webhook/a@x"
    assert receiver.headers[0]["Idempotency-Key"] == receiver.headers[0]["webhook-id"]  # header-safe, stable
    assert (body["level"], body["pass"], body["round"], body["late"], body["urgency"]) == (0, 0, 0, False, "high")
    assert body["recipient"] == {"address": "a@x", "channel": "webhook", "target": "user"}
    assert body["incident"]["id"] == "inc-1" and body["incident"]["labels"] == {"team": "db"}
    assert body["due_at"] == START.isoformat()
    assert statuses(eng) == [("a@x", "sent", "HTTP 200 OK")]


async def test_a_webhook_target_posts_to_its_url_and_a_500_is_a_failure_with_the_reason():
    async with WebhookReceiver(status=500) as receiver:
        eng = engine(channels=loopback_webhooks())
        eng.register_policy(policy("p", level(0, WebhookTarget(url=receiver.url))))
        eng.start_escalation(incident(), "p")
        await eng.outbox.flush()
        await eng.outbox.aclose()
    assert len(receiver.bodies) == 1
    assert statuses(eng) == [(receiver.url, "failed", "HTTP 500 Internal Server Error")]


async def test_an_unreachable_webhook_is_a_failure_that_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}/hook"
    eng = engine(channels=loopback_webhooks())
    eng.register_policy(policy("p", level(0, WebhookTarget(url=url))))
    eng.start_escalation(incident(), "p")
    await eng.outbox.flush()
    await eng.outbox.aclose()
    ((address, status, detail),) = statuses(eng)
    assert (address, status) == (url, "failed")
    assert detail.startswith(f"POST {url} failed:")


async def test_a_person_with_two_webhooks_is_paged_on_both():
    async with WebhookReceiver() as first, WebhookReceiver() as second:
        eng = engine(channels=loopback_webhooks())
        contacts = [WebhookContact(url=first.url), WebhookContact(url=second.url)]
        eng.executor().register_user("a@x", contacts=contacts)
        eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("a@x"))))
        eng.start_escalation(incident(), "p")
        await eng.outbox.flush()
        await eng.outbox.aclose()
    assert len(first.bodies) == len(second.bodies) == 1  # de-duplicated by contact, not by channel
    keys = {first.bodies[0]["idempotency_key"], second.bodies[0]["idempotency_key"]}
    assert keys == {"inc-1#1/r0/p0/l0/webhook/a@x", "inc-1#1/r0/p0/l0/webhook/a@x~1"}
    assert statuses(eng) == [("a@x", "sent", "HTTP 200 OK"), ("a@x", "sent", "HTTP 200 OK")]


async def test_a_person_reached_by_two_targets_at_one_level_is_paged_once_per_contact():
    async with WebhookReceiver() as receiver:
        eng = engine(channels=loopback_webhooks())
        eng.executor().register_user("a@x", contacts=[WebhookContact(url=receiver.url)])
        eng.executor().register_team("db", ["a@x"])
        eng.register_policy(policy("p", level(0, user("a@x"), team("db"))))
        eng.start_escalation(incident(), "p")
        await eng.outbox.flush()
        await eng.outbox.aclose()
    assert len(receiver.bodies) == 1


def test_a_webhook_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(
            {
                "policies": [
                    {
                        "id": "p",
                        "levels": [
                            {"targets": [{"type": "webhook", "url": "https://pager:s3cret@hooks.example.com/x"}]}
                        ],
                    }
                ]
            },
            engine().plugins.registry,
            source="tocsin.yaml",
        )
    message = str(caught.value)
    assert "must not carry credentials" in message and "***@hooks.example.com" in message
    assert "s3cret" not in message


async def test_an_attempt_on_a_url_with_credentials_reports_without_them():
    url = f"http://pager:s3cret-pass@127.0.0.1:{_free_port()}/hook"
    async with tocsin.make_session(["127.0.0.1/32"]) as session:
        outcome = await tocsin.post_json(session, url, b"{}", message_id="msg_1", secrets=None, timeout=2.0, now=START)
    assert outcome.kind is tocsin.OutcomeKind.FAILED
    assert "s3cret-pass" not in outcome.reason and "pager" not in outcome.reason


# --- email ---------------------------------------------------------------------------------------------


async def test_the_email_channel_sends_one_message_per_page_through_smtp(smtp_server):
    port, mailbox = smtp_server
    settings = EmailSettings(host="127.0.0.1", port=port, from_address="tocsin@example.com")
    eng = engine(channels=tocsin.ChannelSet(engine().plugins.registry, {"email": settings}))
    eng.executor().register_user("a@x", contacts=[EmailContact()])
    eng.executor().register_user("b@x", contacts=[EmailContact(address="b-pager@example.com")])
    eng.register_policy(policy("p", level(0, user("a@x"), user("b@x"))))
    eng.start_escalation(incident(), "p")
    await eng.outbox.flush()
    assert sorted(to for to, _ in mailbox.messages) == [["a@x"], ["b-pager@example.com"]]
    message = email.message_from_string(mailbox.messages[0][1], policy=email.policy.default)
    assert message["Subject"] == "[P1] High CPU — escalation level 0"
    assert message["From"] == "tocsin@example.com"
    assert message["X-Tocsin-Idempotency-Key"].startswith("inc-1#1/r0/p0/l0/email/")
    assert "Policy p, pass 0, level 0." in message.get_body(("plain",)).get_content()
    assert '<th style="padding:2px 12px 2px 0;vertical-align:top;text-align:left">Policy</th>' in (
        message.get_body(("html",)).get_content()
    )
    other = "b@x" if message["To"] == "a@x" else "a@x"  # each page names who else the level paged
    assert f"Also paged: {other}" in message.get_body(("plain",)).get_content().splitlines()
    assert [status for _, status, _ in statuses(eng)] == ["sent", "sent"]
    assert statuses(eng)[0][2] == f"accepted by 127.0.0.1:{port} for a@x"


async def test_an_smtp_server_that_is_down_is_a_failure_with_the_reason():
    port = _free_port()
    settings = EmailSettings(host="127.0.0.1", port=port, from_address="tocsin@example.com", timeout_seconds=2)
    eng = engine(channels=tocsin.ChannelSet(engine().plugins.registry, {"email": settings}))
    eng.executor().register_user("a@x", contacts=[EmailContact()])
    eng.register_policy(policy("p", level(0, user("a@x"))))
    eng.start_escalation(incident(), "p")
    await eng.outbox.flush()
    ((_, status, detail),) = statuses(eng)
    assert status == "failed" and detail.startswith(f"SMTP 127.0.0.1:{port}:")


async def test_a_channel_without_its_required_settings_fails_the_delivery_not_the_engine():
    eng = engine()
    eng.executor().register_user("a@x", contacts=[EmailContact()])
    eng.register_policy(policy("p", level(0, user("a@x"), user("b@x"))))
    eng.start_escalation(incident(), "p")
    await eng.outbox.flush()
    assert statuses(eng)[0] == (
        "a@x",
        "dead",  # no retry can fix a missing setting: dead-lettered at once
        "channel 'email' needs settings in the config's channels.email section",
    )
    assert statuses(eng)[1] == ("b@x", "sent", "logged")


# --- isolation -----------------------------------------------------------------------------------------


async def test_a_slow_channel_delays_neither_the_timer_nor_other_deliveries():
    gated = GatedSender()
    sink = tocsin.MemorySink()
    plugins = tocsin.load_plugins(autoload=False, extra=[pager_plugin(gated)])
    clock = tocsin.ManualClock(START)
    eng = tocsin.EscalationEngine(
        plugins, clock=clock, channels=tocsin.ChannelSet(plugins.registry, senders={"log": sink})
    )
    eng.executor().register_user("slow@x", contacts=[PagerContact()])
    eng.register_policy(policy("p", level(0, user("slow@x"), user("fast@x")), level(5, user("fast@x"))))
    monitor = asyncio.create_task(eng.run_monitor())
    try:
        eng.start_escalation(incident(), "p")
        await _until(lambda: len(sink.notifications) == 1)
        assert gated.started == ["slow@x"]
        clock.set(at(5))
        eng.monitor.wake()
        await _until(lambda: len(sink.notifications) == 2)
        assert [n.level for n in sink.notifications] == [0, 1]
        assert statuses(eng)[0] == ("slow@x", "sending", "")  # in flight: not recorded as delivered
        gated.gate.set()
        await _until(lambda: statuses(eng)[0][1] == "sent")
    finally:
        eng.stop_monitor()
        await monitor
    assert statuses(eng) == [("slow@x", "sent", "paged"), ("fast@x", "sent", ""), ("fast@x", "sent", "")]


async def test_a_channel_that_never_answers_times_out_and_one_that_raises_is_recorded():
    gated = GatedSender()
    plugins = tocsin.load_plugins(autoload=False, extra=[pager_plugin(gated)])
    eng = tocsin.EscalationEngine(plugins, clock=tocsin.ManualClock(START), delivery_timeout=0.05)
    eng.executor().register_user("slow@x", contacts=[PagerContact()])
    eng.register_policy(policy("p", level(0, user("slow@x")), level(5, user("slow@x"))))
    eng.start_escalation(incident(), "p")
    await eng.outbox.flush()
    gated.fail_with = ConnectionResetError("pager gateway hung up")
    eng.run_until(at(5))
    await eng.outbox.flush()
    assert statuses(eng) == [
        ("slow@x", "failed", "channel 'pager' timed out after 0.05s"),
        ("slow@x", "failed", "channel 'pager' raised ConnectionResetError: pager gateway hung up"),
    ]


async def test_each_notification_is_delivered_at_most_once_per_key():
    sink = tocsin.MemorySink()
    eng = engine(channels=tocsin.ChannelSet(engine().plugins.registry, every_channel=sink))
    eng.executor().register_team("ops", ["a@x", "b@x"])
    eng.register_policy(policy("p", level(0, team("ops"))))
    eng.start_escalation(incident(), "p")
    eng.outbox.submit(eng.store.deliveries("inc-1#1")[0].notification for _ in range(3))  # resubmitted by mistake
    await asyncio.gather(eng.outbox.flush(), eng.outbox.flush())
    assert sorted(n.recipient.address for n in sink.notifications) == ["a@x", "b@x"]


# --- observers -----------------------------------------------------------------------------------------


class Recorder:
    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @tocsin.hookimpl
    def tocsin_escalation_started(self, state):
        self.calls.append(("started", state.status.value))

    @tocsin.hookimpl
    def tocsin_escalation_level_fired(self, state, level, pass_number, late):
        self.calls.append(("level_fired", level, pass_number, late))

    @tocsin.hookimpl
    def tocsin_escalation_acknowledged(self, state, by):
        self.calls.append(("acknowledged", by))

    @tocsin.hookimpl
    def tocsin_escalation_resolved(self, state):
        self.calls.append(("resolved", state.status.value))

    @tocsin.hookimpl
    def tocsin_notification_delivered(self, notification, result):
        self.calls.append(("delivered", notification.recipient.address, result.ok))

    @tocsin.hookimpl
    def tocsin_notification_failed(self, notification, result):
        self.calls.append(("failed", notification.recipient.address, result.detail))


class Exploding:
    __name__ = "exploding"

    @tocsin.hookimpl
    def tocsin_escalation_level_fired(self, state, level, pass_number, late):
        raise RuntimeError("observer bug")


async def test_observer_hooks_see_each_event_and_a_raising_observer_stops_nothing():
    recorder = Recorder()
    plugins = tocsin.load_plugins(autoload=False, extra=[recorder, Exploding()])
    clock = tocsin.ManualClock(START)
    eng = tocsin.EscalationEngine(plugins, clock=clock)
    eng.executor().register_user("e@x", contacts=[EmailContact()])  # no email settings: fails
    eng.register_policy(policy("p", level(0, user("a@x"), user("e@x")), level(5, user("b@x")), level(5, user("c@x"))))
    with capture_logs() as logs:
        eng.start_escalation(incident(), "p")
        await eng.outbox.flush()
        eng.run_until(at(5))
        eng.acknowledge_escalation("inc-1", "a@x")
        eng.resolve_escalation("inc-1")
        await eng.outbox.flush()
    assert recorder.calls == [
        ("started", "active"),
        ("level_fired", 0, 0, False),
        ("delivered", "a@x", True),
        ("failed", "e@x", "channel 'email' needs settings in the config's channels.email section"),
        ("level_fired", 1, 0, False),
        ("acknowledged", "a@x"),
        ("resolved", "resolved"),
        ("delivered", "b@x", True),
    ]
    audit = [entry["event"] for entry in logs if entry.get("audit")]
    assert audit == [
        "escalation.started",
        "escalation.level_fired",
        "notification.delivered",
        "notification.failed",
        "escalation.level_fired",
        "escalation.acknowledged",
        "escalation.resolved",
        "notification.delivered",
    ]
    assert sum(1 for entry in logs if entry["event"] == "observer hook raised") == 2
    pages = [entry for entry in logs if entry["event"] == "page"]
    assert [(p["recipient"], p["level"]) for p in pages] == [("a@x", 0), ("b@x", 1)]


async def _until(condition, *, rounds: int = 500) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def test_an_engine_keeps_working_across_event_loops():
    sink = tocsin.MemorySink()
    eng = engine(channels=tocsin.ChannelSet(engine().plugins.registry, every_channel=sink))
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x"))))

    async def monitor_briefly() -> None:
        running = asyncio.create_task(eng.run_monitor())
        await _until(lambda: eng.monitor.asleep_until is not None)
        eng.stop_monitor()
        await running

    for number in range(3):
        eng.start_escalation(incident(f"inc-{number}"), "p")
        asyncio.run(eng.outbox.flush())
        asyncio.run(monitor_briefly())
    assert [n.incident_id for n in sink.notifications] == ["inc-0", "inc-1", "inc-2"]
