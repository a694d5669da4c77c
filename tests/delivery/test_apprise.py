"""The Apprise channel, with what Apprise really sends, to receivers on 127.0.0.1: ``json://`` and ``form://``
POSTs carry the title and the body with the action links, an ``ntfy://`` URL pointed at a fake ntfy server
gets the links as ntfy action buttons too; the service's answers map onto the outbox's retries and dead letters."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from support.delivery_receiver import Reply
from support.mailbox import links_in
from support.store import START, plugins

import tocsin
from tocsin.plugins.channel_apprise import with_ntfy_actions

ONCALL = "engineer1@example.com"
PUBLIC_URL = "https://pager.example.com"


LINKS = tocsin.ActionLinks(
    PUBLIC_URL, ["an-apprise-test-secret-of-32-chars!"], clock=tocsin.ManualClock(START), expire=timedelta(hours=24)
)


def engine_for(url: str) -> tocsin.EscalationEngine:
    """One person reached through Apprise at ``url``; pages carry action links (made by ``LINKS``)."""
    document = {
        "users": {ONCALL: {"contacts": [{"type": "apprise", "url": url}]}},
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": ONCALL}]}]}],
        "delivery": {"base_seconds": 1, "cap_seconds": 60, "max_attempts": 3},
    }
    config = tocsin.parse_config(document, plugins().registry)
    clock = tocsin.ManualClock(START)
    engine = tocsin.EscalationEngine.from_config(config, plugins(), clock=clock)
    engine.outbox.use_links(LINKS)
    return engine


async def page(engine: tocsin.EscalationEngine) -> tocsin.Delivery:
    incident = tocsin.Incident(id="inc-1", title="Disk full on db1", severity="P1", created_at=START)
    engine.start_escalation(incident, "p")
    await engine.outbox.flush()
    (delivery,) = engine.get_escalation_state("inc-1").deliveries
    return delivery


async def test_json_delivery_carries_the_title_and_the_action_links(receiver):
    engine = engine_for(f"json://127.0.0.1:{receiver.port}/hook")
    delivery = await page(engine)
    assert delivery.status is tocsin.DeliveryStatus.SENT
    (request,) = receiver.on("/hook")
    sent = json.loads(request.body)
    assert sent["title"] == "[P1] Disk full on db1 — escalation level 0" and sent["type"] == "failure"
    links = links_in(sent["message"])
    assert list(links) == ["Acknowledge", "Resolve", "Snooze 30 min", "Escalate now", "Open in tocsin"]
    opens = links.pop("Open in tocsin")
    assert all(url.startswith(f"{PUBLIC_URL}/v1/links/") for url in links.values())
    claim = LINKS.read(links["Acknowledge"].rpartition("/")[2])
    assert (claim.escalation_id, claim.recipient, claim.action.value) == ("inc-1#1", ONCALL, "acknowledge")
    assert opens.startswith(f"{PUBLIC_URL}/ui/links/")
    claim = LINKS.read(opens.rpartition("/")[2])
    assert (claim.escalation_id, claim.recipient, claim.action) == ("inc-1#1", ONCALL, None)  # it acts on nothing
    assert delivery.result.detail.startswith("accepted by json://127.0.0.1")


async def test_form_delivery_carries_the_links_too(receiver):
    engine = engine_for(f"form://127.0.0.1:{receiver.port}/form")
    assert (await page(engine)).status is tocsin.DeliveryStatus.SENT
    (request,) = receiver.on("/form")
    fields = parse_qs(request.body.decode())
    assert fields["title"] == ["[P1] Disk full on db1 — escalation level 0"]
    assert "Acknowledge" in links_in(fields["message"][0])


async def test_an_ntfy_url_gets_the_links_as_action_buttons(receiver):
    engine = engine_for(f"ntfy://127.0.0.1:{receiver.port}/oncall-db")
    assert (await page(engine)).status is tocsin.DeliveryStatus.SENT
    (request,) = receiver.requests
    sent = json.loads(request.body)
    assert (sent["topic"], sent["title"]) == ("oncall-db", "[P1] Disk full on db1 — escalation level 0")
    actions = [action.split(", ") for action in request.headers["X-Actions"].split("; ")]
    assert [(kind, label) for kind, label, _, _ in actions] == [
        ("view", "Acknowledge"),
        ("view", "Resolve"),
        ("view", "Snooze 30 min"),
    ]
    assert all(url.startswith(f"{PUBLIC_URL}/v1/links/") and clear == "clear=true" for _, _, url, clear in actions)
    assert links_in(sent["message"])["Escalate now"].startswith(PUBLIC_URL)  # the fourth is in the text
    assert request.headers["X-Click"] == links_in(sent["message"])["Open in tocsin"]  # a tap opens the incident
    assert request.headers["X-Click"].startswith(f"{PUBLIC_URL}/ui/links/")


@pytest.mark.parametrize(("reply", "outcome"), [(500, "failed"), (503, "failed"), (429, "failed"), (400, "dead")])
async def test_answers_map_to_retries_and_dead_letters(receiver, reply, outcome):
    url = f"json://127.0.0.1:{receiver.port}/hook"
    receiver.script("/hook", Reply(status=reply))
    engine = engine_for(url)
    delivery = await page(engine)
    assert delivery.status.value == outcome and f"error={reply}" in delivery.result.detail
    if outcome == "failed":
        engine.clock.set(delivery.next_attempt_at)
        await engine.outbox.deliver_due()
        (again,) = engine.get_escalation_state("inc-1").deliveries
        assert (again.status, again.attempts, len(receiver.on("/hook"))) == (tocsin.DeliveryStatus.SENT, 2, 2)


async def test_a_receiver_that_is_down_is_retried():
    engine = engine_for("json://127.0.0.1:9/hook")  # the discard port: nothing listens
    delivery = await page(engine)
    assert delivery.status is tocsin.DeliveryStatus.FAILED and delivery.next_attempt_at is not None


def test_an_unknown_apprise_url_is_a_config_error_at_its_path():
    document: dict[str, Any] = {"users": {ONCALL: {"contacts": [{"type": "apprise", "url": "carrierpigeon://coop"}]}}}
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(document, plugins().registry, source="tocsin.yaml")
    assert str(caught.value) == (
        "tocsin.yaml: $.users['engineer1@example.com'].contacts[0].url: Apprise cannot use this carrierpigeon:// URL "
        "(an unknown service, or a part it needs is missing)"
    )


def test_only_ntfy_urls_get_action_buttons():
    links = (tocsin.ActionLink(action="acknowledge", label="Acknowledge", url="https://p.example.com/v1/links/t"),)
    assert with_ntfy_actions("json://127.0.0.1/hook", links) == "json://127.0.0.1/hook"
    assert with_ntfy_actions("ntfys://ntfy.example.com/topic?priority=high", ()) == (
        "ntfys://ntfy.example.com/topic?priority=high"
    )
    assert with_ntfy_actions("ntfys://ntfy.example.com/topic?priority=high", links) == (
        "ntfys://ntfy.example.com/topic?priority=high&actions=view%2C%20Acknowledge%2C%20"
        "https%3A%2F%2Fp.example.com%2Fv1%2Flinks%2Ft%2C%20clear%3Dtrue"
    )
    opens = tocsin.ActionLink(action="open", label="Open in tocsin", url="https://p.example.com/ui/links/o")
    assert with_ntfy_actions("ntfys://ntfy.example.com/topic?click=https://elsewhere.example", (opens,)) == (
        "ntfys://ntfy.example.com/topic?click=https%3A%2F%2Fp.example.com%2Fui%2Flinks%2Fo"
    )
