"""The Slack channel against a fake Slack on 127.0.0.1: an incident posted to a real server pages through
``chat.postMessage`` with Block Kit buttons; an "Acknowledge" press, signed as Slack signs it, acknowledges as the
mapped user, stops the next level and updates the message; a bad, stale or replayed signature is a 401 and
changes nothing. Slack's errors map onto the outbox's retries and dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import yaml
from support.server import CONFIG, READER, RESPONDER, START, ServerThread, bearer, eventually, load
from support.slack import FakeSlack
from support.store import plugins

import tocsin
from tocsin.server import create_app, memory_storage

TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ONCALL, ONCALL_MEMBER = "engineer1@example.com", "U0ONCALL1"
LEAD, LEAD_MEMBER = "team-lead@example.com", "U0LEAD001"


@pytest.fixture(autouse=True)
def slack_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(TOKEN, SIGNING_SECRET)
    await fake.start()
    yield fake
    await fake.stop()


def slack_config(slack: FakeSlack) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["users"] = {
        ONCALL: {"contacts": [{"type": "slack", "user": ONCALL_MEMBER}]},
        LEAD: {"contacts": [{"type": "slack", "user": LEAD_MEMBER}]},
    }
    document["channels"] = {
        "slack": {
            "token_env": "SLACK_BOT_TOKEN",
            "signing_secret_env": "SLACK_SIGNING_SECRET",
            "api_url": slack.api_url,
            "allow_networks": ["127.0.0.1/32"],
            "users": {"U0WATCHER": "watcher@example.com"},
        }
    }
    return document


class Running:
    def __init__(self, server: ServerThread, http: aiohttp.ClientSession, clock: tocsin.ManualClock) -> None:
        self.server, self.http, self.clock = server, http, clock

    async def press(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.http.post("/v1/slack/interactions", data=body, headers=headers) as answer:
            return answer.status, await answer.json()

    async def escalation(self, incident_id: str) -> dict[str, Any]:
        async with self.http.get(f"/v1/escalations/{incident_id}", headers=bearer(READER)) as answer:
            return await answer.json()

    def now(self) -> int:
        return int(self.clock.now().timestamp())


@pytest.fixture
async def running(slack: FakeSlack) -> AsyncIterator[Running]:
    clock = tocsin.ManualClock(START)
    loaded = tocsin.load_plugins()
    app = create_app(load(slack_config(slack), loaded), loaded, storage=memory_storage(), clock=clock)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            yield Running(server, http, clock)


async def raise_incident(running: Running) -> str:
    incident = {"title": "High CPU on db1", "severity": "P1", "description": "load <5> & rising"}
    async with running.http.post("/v1/incidents", json=incident, headers=bearer(RESPONDER)) as answer:
        assert answer.status == 201
        return str((await answer.json())["incident"]["id"])


async def test_a_signed_acknowledge_press_acknowledges_as_the_mapped_user_and_updates_the_message(running, slack):
    incident_id = await raise_incident(running)
    (message,) = await eventually(lambda: slack.messages)
    assert message["channel"] == ONCALL_MEMBER
    header, fields, description, actions = message["blocks"][:4]
    assert header["text"]["text"] == "[P1] High CPU on db1 — escalation level 0"
    assert {"type": "mrkdwn", "text": "*Severity*\nP1"} in fields["fields"]
    assert description["text"]["text"] == "load &lt;5&gt; &amp; rising"
    assert [b["text"]["text"] for b in actions["elements"]] == ["Acknowledge", "Resolve", "Snooze 30 min"]

    body, headers = slack.interaction(message, user=ONCALL_MEMBER, action="acknowledge", timestamp=running.now())
    assert await running.press(body, headers) == (200, {})
    state = await running.escalation(incident_id)
    assert (state["status"], state["acknowledged_by"]) == ("acknowledged", ONCALL)

    (update,) = await eventually(lambda: slack.called("chat.update"))
    assert (update["channel"], update["ts"]) == (ONCALL_MEMBER, message["ts"])
    assert update["text"].startswith(f"Acknowledged by {ONCALL}")
    left = [b for b in update["blocks"] if b["type"] == "actions"]
    assert [b["text"]["text"] for b in left[0]["elements"]] == ["Resolve", "Snooze 30 min"]

    replayed = await running.press(body, headers)  # the same request again, within the five minutes
    assert replayed == (
        401,
        {"error": "slack: this Slack request was handled before (a replay): nothing was changed", "errors": []},
    )

    running.server.advance(running.clock, minutes=60)  # level 1 (the lead, minute 5) does not fire
    await eventually(lambda: running.server.call(lambda: running.server.service.engine.outbox.in_flight() == 0))
    assert [m["channel"] for m in slack.messages] == [ONCALL_MEMBER]
    assert len(slack.called("chat.update")) == 1
    assert (await running.escalation(incident_id))["status"] == "acknowledged"


async def test_with_a_public_url_the_message_has_an_open_in_tocsin_button_that_acts_on_nothing(slack, monkeypatch):
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "a-link-secret-of-at-least-32-characters!")
    clock = tocsin.ManualClock(START)
    loaded = tocsin.load_plugins()
    document = slack_config(slack)
    document["server"]["public_url"] = "https://pager.example.com"
    app = create_app(load(document, loaded), loaded, storage=memory_storage(), clock=clock)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            running = Running(server, http, clock)
            incident_id = await raise_incident(running)
            (message,) = await eventually(lambda: slack.messages)
            (actions,) = [block for block in message["blocks"] if block["type"] == "actions"]
            opens = actions["elements"][-1]
            assert [b["text"]["text"] for b in actions["elements"]] == [
                "Acknowledge", "Resolve", "Snooze 30 min", "Open in tocsin"
            ]  # fmt: skip
            assert opens["url"].startswith("https://pager.example.com/ui/links/") and "value" not in opens

            body, headers = slack.interaction(message, user=ONCALL_MEMBER, action="open", timestamp=running.now())
            assert await running.press(body, headers) == (200, {})  # Slack tells of the press; the browser opens it
            assert (await running.escalation(incident_id))["status"] == "active"
            assert slack.called("chat.update") == [] and slack.replies == []

            body, headers = slack.interaction(
                message, user=ONCALL_MEMBER, action="acknowledge", timestamp=running.now()
            )
            assert await running.press(body, headers) == (200, {})
            (update,) = await eventually(lambda: slack.called("chat.update"))
            (left,) = [block for block in update["blocks"] if block["type"] == "actions"]
            assert [b["text"]["text"] for b in left["elements"]] == ["Resolve", "Snooze 30 min", "Open in tocsin"]
            assert left["elements"][-1]["url"] == opens["url"]


async def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(running, slack):
    incident_id = await raise_incident(running)
    (message,) = await eventually(lambda: slack.messages)
    body, headers = slack.interaction(message, user=ONCALL_MEMBER, action="acknowledge", timestamp=running.now())
    forged = {**headers, **slack.signed(body, running.now(), secret="not-the-signing-secret")}
    stale_body, stale = slack.interaction(
        message, user=ONCALL_MEMBER, action="acknowledge", timestamp=running.now() - 301
    )
    unsigned = {"Content-Type": headers["Content-Type"]}
    for bad in ((body, forged), (stale_body, stale), (body, unsigned), (body + b"&x=1", headers)):
        status, answer = await running.press(*bad)
        assert status == 401 and "signature" in answer["error"]
    state = await running.escalation(incident_id)
    assert state["status"] == "active" and slack.called("chat.update") == []


async def test_an_unmapped_member_is_told_and_nothing_changes(running, slack):
    incident_id = await raise_incident(running)
    (message,) = await eventually(lambda: slack.messages)
    body, headers = slack.interaction(message, user="U0STRANGER", action="acknowledge", timestamp=running.now())
    status, answer = await running.press(body, headers)
    assert status == 403 and "U0STRANGER" in answer["error"]
    assert slack.replies == [
        {
            "text": "Slack member U0STRANGER is not a tocsin user: nothing was changed.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]
    assert (await running.escalation(incident_id))["status"] == "active"


async def test_a_member_mapped_in_the_settings_acts_and_a_press_with_nothing_to_do_is_told_so(running, slack):
    incident_id = await raise_incident(running)
    (message,) = await eventually(lambda: slack.messages)
    body, headers = slack.interaction(message, user="U0WATCHER", action="snooze", timestamp=running.now())
    assert await running.press(body, headers) == (200, {})
    state = await running.escalation(incident_id)
    assert (state["acknowledged_by"], state["snoozed_until"]) == (
        "watcher@example.com",
        (START + timedelta(minutes=30)).isoformat(),
    )
    body, headers = slack.interaction(message, user=ONCALL_MEMBER, action="acknowledge", timestamp=running.now() + 1)
    assert await running.press(body, headers) == (200, {})
    assert slack.replies[-1]["text"].startswith("Already acknowledged by watcher@example.com")
    assert len(slack.called("chat.update")) == 1


async def test_resolve_from_slack_resolves_the_incident(running, slack):
    incident_id = await raise_incident(running)
    (message,) = await eventually(lambda: slack.messages)
    body, headers = slack.interaction(message, user=ONCALL_MEMBER, action="resolve", timestamp=running.now())
    assert await running.press(body, headers) == (200, {})
    assert (await running.escalation(incident_id))["status"] == "resolved"
    (update,) = await eventually(lambda: slack.called("chat.update"))
    assert not [b for b in update["blocks"] if b["type"] == "actions"]


async def test_interactions_are_a_404_without_a_slack_section():
    loaded = tocsin.load_plugins()
    app = create_app(load(CONFIG, loaded), loaded, storage=memory_storage(), clock=tocsin.ManualClock(START))
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http, http.post("/v1/slack/interactions", data=b"x") as answer:
            assert answer.status == 404
            assert "channels.slack" in (await answer.json())["error"]


# --- Slack's answers and the outbox ------------------------------------------------------------------------


def engine_for(slack: FakeSlack) -> tocsin.EscalationEngine:
    document = slack_config(slack)
    document["policies"] = [{"id": "p", "levels": [{"targets": [{"type": "user", "email": ONCALL}]}]}]
    document["delivery"] = {"base_seconds": 1, "cap_seconds": 60, "max_attempts": 3}
    for section in ("server", "storage", "teams", "schedules", "rules"):
        document.pop(section)
    config = tocsin.parse_config(document, plugins().registry)
    return tocsin.EscalationEngine.from_config(config, plugins(), clock=tocsin.ManualClock(START))


def only_delivery(engine: tocsin.EscalationEngine) -> tocsin.Delivery:
    (delivery,) = engine.get_escalation_state("inc-1").deliveries
    return delivery


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome"),
    [
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}, "failed"),
        (200, {"ok": False, "error": "internal_error"}, {}, "failed"),
        (503, {"ok": False, "error": "service_unavailable"}, {}, "failed"),
        (200, {"ok": False, "error": "channel_not_found"}, {}, "dead"),
        (200, {"ok": False, "error": "invalid_auth"}, {}, "dead"),
    ],
)
async def test_slack_errors_are_retried_or_dead_lettered(slack, status, body, headers, outcome):
    slack.script("chat.postMessage", status, body, headers)
    engine = engine_for(slack)
    engine.start_escalation(tocsin.Incident(id="inc-1", title="Disk full", severity="P2", created_at=START), "p")
    await engine.outbox.flush()
    delivery = only_delivery(engine)
    assert delivery.status.value == outcome and body["error"] in delivery.result.detail
    if headers:
        assert delivery.next_attempt_at == START + timedelta(seconds=30)
    if outcome == "failed":
        engine.clock.set(delivery.next_attempt_at)
        await engine.outbox.deliver_due()
        assert only_delivery(engine).status is tocsin.DeliveryStatus.SENT
    await engine.outbox.aclose()


async def test_an_unset_bot_token_dead_letters_with_the_variable_named(slack, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    engine = engine_for(slack)
    engine.start_escalation(tocsin.Incident(id="inc-1", title="Disk full", severity="P2", created_at=START), "p")
    await engine.outbox.flush()
    delivery = only_delivery(engine)
    assert delivery.status is tocsin.DeliveryStatus.DEAD
    assert "SLACK_BOT_TOKEN" in delivery.result.detail and slack.calls == []


def test_a_contact_names_a_member_or_a_channel_exactly():
    document = {"users": {ONCALL: {"contacts": [{"type": "slack"}]}}}
    with pytest.raises(tocsin.ConfigError, match=r"contacts\[0\]\.user: give exactly one of user"):
        tocsin.parse_config(document, plugins().registry, source="tocsin.yaml")
