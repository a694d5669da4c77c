"""Action links end to end: a real server on 127.0.0.1 pages by e-mail through a real SMTP server (aiosmtpd), and
the links in the message are followed with an HTTP client as a person's browser would: GET shows a page and
changes nothing, the page's POST acts once as the recipient. Time is a manual clock, moved in the server's loop."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.console import Proxied, api, served
from support.delivery_receiver import Receiver
from support.mailbox import Mailbox, links_in, smtp_server, text_part
from support.server import ADMIN, CONFIG, READER, RESPONDER, START, ServerThread, bearer, eventually, load

import tocsin
from tocsin.server import ServerError, create_app, memory_storage, sqlite_storage
from tocsin.server.storage import postgres_storage

HOST = "https://pager.example.com"
PUBLIC_URL = f"{HOST}/tocsin"
SECRET = "a-link-secret-of-at-least-32-characters!"
ONCALL = "engineer1@example.com"
LEAD = "team-lead@example.com"


@pytest.fixture(autouse=True)
def link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_LINK_SECRET", SECRET)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def mail_config(box: Mailbox, **server: Any) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["server"].update({"public_url": PUBLIC_URL, **server})
    document["users"] = {ONCALL: {"contacts": [{"type": "email"}]}, LEAD: {"contacts": [{"type": "email"}]}}
    document["channels"] = {"email": {"host": "127.0.0.1", "port": box.port, "from_address": "tocsin@example.com"}}
    return document


class Pager:
    """A running server, an HTTP client to it, and the incident it raised."""

    def __init__(self, server: ServerThread, http: aiohttp.ClientSession, clock: tocsin.ManualClock) -> None:
        self.server, self.http, self.clock = server, http, clock
        self.incident_id = ""

    async def raise_incident(self) -> str:
        incident = {"title": "High CPU", "severity": "P1", "source": "monitoring"}
        async with self.http.post("/v1/incidents", json=incident, headers=bearer(RESPONDER)) as answer:
            assert answer.status == 201
            self.incident_id = (await answer.json())["incident"]["id"]
        return self.incident_id

    async def follow(self, link: str, method: str = "GET") -> tuple[int, str]:
        """Open ``link`` on this server (the public URL's proxy strips its prefix)."""
        assert link.startswith(PUBLIC_URL + "/v1/links/"), link
        async with self.http.request(method, link.removeprefix(PUBLIC_URL)) as answer:
            assert answer.content_type == "text/html"
            return answer.status, await answer.text()

    async def escalation(self) -> dict[str, Any]:
        async with self.http.get(f"/v1/escalations/{self.incident_id}", headers=bearer(READER)) as answer:
            assert answer.status == 200
            return await answer.json()

    async def settled(self) -> None:
        outbox = self.server.service.engine.outbox
        await eventually(lambda: self.server.call(lambda: outbox.queued() + outbox.in_flight()) == 0)


@pytest.fixture(params=["memory", "sqlite"])
async def pager(request: pytest.FixtureRequest, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[Pager]:
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    if request.param == "memory":
        storage = memory_storage()
    else:
        storage = sqlite_storage(str(tmp_path / "tocsin.db"), plugins.registry, clock)
    app = create_app(load(mail_config(mailbox), plugins), plugins, storage=storage, clock=clock)
    try:
        with ServerThread(app) as server:
            async with aiohttp.ClientSession(server.url) as http:
                yield Pager(server, http, clock)
    finally:
        storage.close()


async def first_page(box: Mailbox, to: str = ONCALL) -> dict[str, str]:
    (message,) = await eventually(lambda: box.to(to))
    return links_in(text_part(message))


async def test_the_page_carries_five_links_in_its_text_and_html(pager: Pager, mailbox: Mailbox):
    await pager.raise_incident()
    (message,) = await eventually(lambda: mailbox.to(ONCALL))
    links = links_in(text_part(message))
    assert list(links) == ["Acknowledge", "Resolve", "Snooze 30 min", "Escalate now", "Open in tocsin"]
    assert links["Open in tocsin"].startswith(PUBLIC_URL + "/ui/links/")
    html = text_part(message, "html")
    assert all(f'href="{url}"' in html for url in links.values())
    assert "High CPU" in html and "Severity" in html


async def test_get_acknowledges_nothing_and_the_post_acknowledges_once_as_the_recipient(pager: Pager, mailbox):
    await pager.raise_incident()
    acknowledge = (await first_page(mailbox))["Acknowledge"]

    for _ in range(3):  # a mail scanner, a link preview, the person: each GET only shows the page
        status, page = await pager.follow(acknowledge)
        assert status == 200 and '<form method="post"' in page and "High CPU" in page
    assert (await pager.escalation())["status"] == "active"

    status, page = await pager.follow(acknowledge, "POST")
    assert status == 200 and f"Acknowledged by {ONCALL}" in page
    state = await pager.escalation()
    assert (state["status"], state["acknowledged_by"]) == ("acknowledged", ONCALL)

    pager.server.advance(pager.clock, minutes=60)  # level 1 would page the lead at minute 5: nobody is paged
    await pager.settled()
    assert mailbox.to(LEAD) == [] and len(mailbox.messages) == 1

    status, page = await pager.follow(acknowledge, "POST")
    assert status == 410 and "already used" in page
    assert [e["kind"] for e in (await pager.escalation())["events"]].count("acknowledged") == 1


async def test_a_link_that_has_nothing_to_do_stays_unused(pager: Pager, mailbox: Mailbox):
    incident_id = await pager.raise_incident()
    links = await first_page(mailbox)
    async with pager.http.post(
        f"/v1/incidents/{incident_id}/acknowledge", json={"by": "someone@example.com"}, headers=bearer(RESPONDER)
    ) as answer:
        assert answer.status == 200
    status, page = await pager.follow(links["Acknowledge"], "POST")
    assert status == 409 and "Already acknowledged by someone@example.com at 2026-03-02 14:00 UTC" in page
    status, page = await pager.follow(links["Resolve"], "POST")
    assert status == 200 and "resolved" in page
    state = await pager.escalation()
    assert state["status"] == "resolved"
    assert [e["by"] for e in state["events"] if e["kind"] == "resolved"] == [ONCALL]


async def test_a_link_fails_after_it_expires(pager: Pager, mailbox: Mailbox):
    await pager.raise_incident()
    acknowledge = (await first_page(mailbox))["Acknowledge"]
    pager.server.advance(pager.clock, hours=24)
    for method in ("GET", "POST"):
        status, page = await pager.follow(acknowledge, method)
        assert status == 410 and "expired" in page
    state = await pager.escalation()
    assert state["acknowledged_by"] is None and "acknowledged" not in [e["kind"] for e in state["events"]]


async def test_a_link_fails_for_another_escalation_and_when_changed(pager: Pager, mailbox: Mailbox):
    incident_id = await pager.raise_incident()
    acknowledge = (await first_page(mailbox))["Acknowledge"]
    async with pager.http.post(f"/v1/incidents/{incident_id}/cancel", headers=bearer(ADMIN)) as answer:
        assert answer.status == 200
    service = pager.server.service
    incident = pager.server.call(lambda: service.processor.get_incident(incident_id))
    pager.server.call(lambda: service.engine.start_escalation(incident, "standard-p1"))  # escalation #2

    status, page = await pager.follow(acknowledge, "POST")
    assert status == 410 and f"{incident_id}#1" in page and "has ended" in page
    state = await pager.escalation()
    assert (state["escalation_id"], state["status"]) == (f"{incident_id}#2", "active")

    head, _, signature = acknowledge.rpartition(".")
    forged = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"  # its first character changed
    for method in ("GET", "POST"):
        status, page = await pager.follow(forged, method)
        assert status == 404 and "not valid" in page
    assert (await pager.escalation())["status"] == "active"


async def test_snooze_on_an_active_escalation_acknowledges_and_snoozes_at_once(pager: Pager, mailbox: Mailbox):
    await pager.raise_incident()
    snooze = (await first_page(mailbox))["Snooze 30 min"]
    status, page = await pager.follow(snooze, "POST")
    assert status == 200 and f"Acknowledged by {ONCALL} and snoozed for 30 minutes" in page
    state = await pager.escalation()
    assert state["status"] == "acknowledged"
    assert state["snoozed_until"] == (START + timedelta(minutes=30)).isoformat()
    assert [e["kind"] for e in state["events"]][-2:] == ["acknowledged", "snoozed"]


async def test_escalate_now_pages_the_next_level_at_once(pager: Pager, mailbox: Mailbox):
    await pager.raise_incident()
    escalate = (await first_page(mailbox))["Escalate now"]
    status, page = await pager.follow(escalate, "POST")
    assert status == 200 and "level 1 is paged now" in page
    (message,) = await eventually(lambda: mailbox.to(LEAD))
    assert "escalation level 1" in message["Subject"]
    assert "Escalate now" in links_in(text_part(message))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_used_link_stays_used_after_a_restart_and_on_another_instance(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, mailbox: Mailbox
):
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    config = load(mail_config(mailbox), plugins)
    path = str(tmp_path / "shared.db")
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgresql" else ""

    def instance(run_monitor: bool = True) -> ServerThread:
        if kind == "postgresql":
            storage = postgres_storage(dsn, plugins.registry, clock, database_clock=False)
        else:
            storage = sqlite_storage(path, plugins.registry, clock)
        return ServerThread(create_app(config, plugins, storage=storage, clock=clock, run_monitor=run_monitor))

    first, other = instance(), instance(run_monitor=False)
    with first, other:
        async with aiohttp.ClientSession(first.url) as http, aiohttp.ClientSession(other.url) as http_other:
            pager = Pager(first, http, clock)
            await pager.raise_incident()
            links = await first_page(mailbox)
            status, _ = await pager.follow(links["Snooze 30 min"], "POST")
            assert status == 200
            status, page = await Pager(other, http_other, clock).follow(links["Snooze 30 min"], "POST")
            assert status == 410 and "already used" in page
    first.service.storage.close()
    other.service.storage.close()

    restarted = instance()
    with restarted:
        async with aiohttp.ClientSession(restarted.url) as http:
            status, page = await Pager(restarted, http, clock).follow(links["Snooze 30 min"], "POST")
    restarted.service.storage.close()
    assert status == 410 and "already used" in page


async def test_without_a_public_url_pages_carry_no_links(mailbox: Mailbox):
    plugins = tocsin.load_plugins()
    document = mail_config(mailbox)
    del document["server"]["public_url"]
    app = create_app(load(document, plugins), plugins, storage=memory_storage(), clock=tocsin.ManualClock(START))
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            await Pager(server, http, tocsin.ManualClock(START)).raise_incident()
            (message,) = await eventually(lambda: mailbox.to(ONCALL))
            async with http.get("/v1/links/anything") as answer:
                assert answer.status == 404 and "server.public_url is not set" in await answer.text()
    assert links_in(text_part(message)) == {} and "/v1/links/" not in text_part(message, "html")


def test_a_server_with_a_public_url_needs_the_link_secret(monkeypatch, mailbox: Mailbox):
    monkeypatch.delenv("TOCSIN_LINK_SECRET")
    plugins = tocsin.load_plugins()
    with pytest.raises(ServerError, match=re.escape("the environment variable TOCSIN_LINK_SECRET is not set")):
        create_app(load(mail_config(mailbox), plugins), plugins, storage=memory_storage())


async def test_links_signed_with_the_previous_secret_work_while_rotating(monkeypatch, mailbox: Mailbox):
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    storage = memory_storage()
    app = create_app(load(mail_config(mailbox), plugins), plugins, storage=storage, clock=clock)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            await Pager(server, http, clock).raise_incident()
            old = (await first_page(mailbox))["Acknowledge"]
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "b-brand-new-link-secret-of-32-characters")
    monkeypatch.setenv("TOCSIN_LINK_SECRET_OLD", SECRET)
    rotated = load(mail_config(mailbox, action_links={"previous_secret_env": "TOCSIN_LINK_SECRET_OLD"}), plugins)
    app = create_app(rotated, plugins, storage=storage, clock=clock)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            status, page = await Pager(server, http, clock).follow(old, "POST")
    assert status == 200 and f"Acknowledged by {ONCALL}" in page


async def test_a_webhook_page_carries_the_open_link_in_its_payload_and_it_signs_in(receiver: Receiver):
    document = yaml.safe_load(CONFIG)
    document["server"]["public_url"] = PUBLIC_URL
    document["users"] = {ONCALL: {"contacts": [{"type": "webhook", "url": receiver.url("/oncall")}]}}
    document["channels"] = {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": ["whsec_" + "A" * 32]}}
    with served(document, tocsin.ManualClock(START)) as server:
        assert api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk", "severity": "P1"})[0] == 201
        (page,) = await eventually(lambda: receiver.on("/oncall"))
        links = json.loads(page.body)["links"]
        assert [link["action"] for link in links] == ["acknowledge", "resolve", "snooze", "escalate", "open"]
        opens = links[-1]
        assert opens["label"] == "Open in tocsin" and opens["url"].startswith(f"{PUBLIC_URL}/ui/links/")
        browser = Proxied(server.url, "/tocsin")  # PUBLIC_URL's path: the console's addresses are under it
        assert browser.send("GET", opens["url"].removeprefix(HOST))[1]["location"] == "/tocsin/ui/incidents/x"
        assert f'{ONCALL} <small class="scope">respond</small>' in browser.send("GET", "/tocsin/ui/incidents/x")[2]


@pytest.mark.parametrize(
    ("label", "said", "status", "last_events"),
    [
        ("Acknowledge", f"Acknowledged by {ONCALL}", "acknowledged", ["completed", "acknowledged"]),
        ("Snooze 30 min", f"Acknowledged by {ONCALL} and snoozed", "acknowledged", ["acknowledged", "snoozed"]),
        ("Escalate now", "level 0 is paged now", "active", ["escalated", "level_fired"]),
    ],
)
async def test_the_links_act_on_an_exhausted_escalation_nobody_answered(
    pager: Pager, mailbox: Mailbox, label: str, said: str, status: str, last_events: list[str]
):
    await pager.raise_incident()
    link = (await first_page(mailbox))[label]
    pager.server.advance(pager.clock, minutes=60)  # every level of both passes fired unanswered (the last at 50m)
    await pager.settled()
    exhausted = await pager.escalation()
    assert (exhausted["status"], exhausted["exhausted"], exhausted["open"]) == ("completed", True, True)

    answer, page = await pager.follow(link, "POST")
    assert answer == 200 and said in page
    state = await pager.escalation()
    assert state["status"] == status and [event["kind"] for event in state["events"]][-2:] == last_events
    if status == "acknowledged":
        assert state["acknowledged_by"] == ONCALL
