"""Signing in to the console through a page's link, and sessions after a config reload, against a real server on
127.0.0.1. The page is a real e-mail through a real SMTP server (aiosmtpd); its links are followed as a browser
behind the server's TLS proxy would follow them: the "Open in tocsin" link signs the recipient in (respond scope,
until the link expires, and while its secret is one the server knows) and shows the incident; an action link
followed into the console signs in too and stays unused. A reload that removes a token ends its sessions at
once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from support.console import Proxied, Visitor, api, csrf_of, served
from support.mailbox import Mailbox, links_in, smtp_server, text_part
from support.server import ADMIN, CONFIG, READER, RESPONDER, START

import tocsin

T = TypeVar("T")
PUBLIC_URL = "https://pager.example.com"
ONCALL = "engineer1@example.com"


@pytest.fixture(autouse=True)
def link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "a-link-secret-of-at-least-32-characters!")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def mail_document(box: Mailbox) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["server"]["public_url"] = PUBLIC_URL
    document["users"] = {ONCALL: {"contacts": [{"type": "email"}]}}
    document["channels"] = {"email": {"host": "127.0.0.1", "port": box.port, "from_address": "tocsin@example.com"}}
    return document


def waited(check: Callable[[], T], within: float = 20.0) -> T:
    """``check()`` once it is true (a page crosses a real SMTP connection)."""
    deadline = time.monotonic() + within
    while not (value := check()):
        assert time.monotonic() < deadline, "the page did not arrive"
        time.sleep(0.02)
    return value


def page_links(box: Mailbox) -> dict[str, str]:
    (message,) = waited(lambda: box.to(ONCALL))
    return {label: url.removeprefix(PUBLIC_URL) for label, url in links_in(text_part(message)).items()}


def test_the_open_link_signs_the_recipient_in_until_it_expires_and_shows_the_incident(mailbox: Mailbox):
    clock = tocsin.ManualClock(START)
    with served(mail_document(mailbox), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk full on db1", "severity": "P1"})
        opens = page_links(mailbox)["Open in tocsin"]
        assert opens.startswith("/ui/links/")

        browser = Visitor(server.url, behind_tls=True)
        status, headers, _ = browser.get(opens)
        assert (status, headers["location"]) == (303, "/ui/incidents/x")
        assert headers["referrer-policy"] == "no-referrer"
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "Max-Age=86400" in cookie  # the link's 24 hours
        status, _, page = browser.get("/ui/incidents/x")
        assert status == 200 and "Disk full on db1" in page
        assert f'{ONCALL} <small class="scope">respond</small>' in page
        assert ">Acknowledge</button>" in page and "Cancel escalation" not in page  # respond, not admin

        status, _, _ = browser.post("/ui/incidents/x/acknowledge", {"csrf": browser.csrf("/ui/incidents/x")})
        assert status == 303
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["status"], escalation["acknowledged_by"]) == ("acknowledged", ONCALL)
        as_action = "/v1/links/" + opens.rpartition("/")[2]  # it is no action link, whatever it is posted to
        for status, _, page in (Visitor(server.url).get(as_action), Visitor(server.url).post(as_action, {})):
            assert status == 404 and "acts on nothing" in page

        server.advance(clock, hours=13)  # past session_hours (12): a link's session lasts as long as its link
        assert browser.get("/ui/incidents")[0] == 200
        server.advance(clock, hours=11)  # the link has expired, and the session with it
        assert browser.get("/ui/incidents")[0] == 303
        status, _, page = Visitor(server.url, behind_tls=True).get(opens)
        assert status == 410 and "expired" in page


def test_an_action_link_followed_into_the_console_signs_in_and_stays_unused(mailbox: Mailbox):
    with served(mail_document(mailbox), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk full on db1", "severity": "P1"})
        acknowledge = page_links(mailbox)["Acknowledge"]
        token = acknowledge.rpartition("/")[2]

        browser = Visitor(server.url, behind_tls=True)
        status, headers, _ = browser.get(f"/ui/links/{token}")
        assert (status, headers["location"]) == (303, "/ui/incidents/x")
        assert browser.get("/ui/incidents/x")[0] == 200
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["status"] == "active"  # signing in acted on nothing

        answer = Visitor(server.url).post(acknowledge, {})  # the link's own button, afterwards: it still works once
        assert answer[0] == 200 and f"Acknowledged by {ONCALL}" in answer[2]
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["acknowledged_by"] == ONCALL


def test_a_link_session_lasts_only_while_its_link_is_genuine(mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOCSIN_SESSION_KEY", "k" * 40)  # sessions survive restarts; links are another matter
    document = mail_document(mailbox)
    document["server"] = {**document["server"], "session_secret_env": "TOCSIN_SESSION_KEY"}
    with served(document, tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk full on db1", "severity": "P1"})
        browser = Visitor(server.url, behind_tls=True)
        assert browser.get(page_links(mailbox)["Open in tocsin"])[0] == 303
        cookies = list(browser.jar)

    def signed_in_after_restart(**action_links: str) -> bool:
        rotated = {**document, "server": {**document["server"], "action_links": action_links}}
        with served(rotated, tocsin.ManualClock(START)) as again:
            visitor = Visitor(again.url, behind_tls=True)
            for cookie in cookies:
                visitor.jar.set_cookie(cookie)
            return visitor.get("/ui/incidents")[0] == 200

    assert signed_in_after_restart()  # the same link secret: the session goes on
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "b-brand-new-link-secret-of-32-characters")
    monkeypatch.setenv("TOCSIN_LINK_SECRET_OLD", "a-link-secret-of-at-least-32-characters!")
    assert signed_in_after_restart(previous_secret_env="TOCSIN_LINK_SECRET_OLD")  # rotating: links still work
    assert not signed_in_after_restart()  # the old secret dropped (a leaked one): its links' sessions end too


def test_a_changed_link_signs_nobody_in_and_a_session_that_may_act_is_kept(mailbox: Mailbox):
    with served(mail_document(mailbox), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk full on db1", "severity": "P1"})
        opens = page_links(mailbox)["Open in tocsin"]
        head, _, signature = opens.rpartition(".")
        forged = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
        browser = Visitor(server.url, behind_tls=True)
        status, _, page = browser.get(forged)
        assert status == 404 and "not valid" in page
        assert browser.get("/ui/incidents")[0] == 303  # not signed in

        admin = Visitor(server.url, behind_tls=True)
        admin.sign_in(ADMIN, "ops@example.com")
        status, headers, _ = admin.get(opens)
        assert status == 303 and "set-cookie" not in {name.lower() for name in headers}
        _, _, page = admin.get("/ui/incidents/x")
        assert "ops@example.com" in page and "Cancel escalation" in page  # still the admin session


def test_without_a_public_url_there_are_no_links_to_sign_in_with():
    document = yaml.safe_load(CONFIG)
    with served(document, tocsin.ManualClock(START)) as server:
        status, _, page = Visitor(server.url).get("/ui/links/anything")
        assert status == 404 and "server.public_url is not set" in page


def test_a_reload_that_removes_a_token_ends_its_sessions_at_once_and_a_new_token_signs_in(tmp_path: Path):
    path = tmp_path / "tocsin.yaml"
    document = yaml.safe_load(CONFIG)
    path.write_text(yaml.safe_dump(document))
    with served(document, tocsin.ManualClock(START), source=path) as server:
        responder, admin = Visitor(server.url), Visitor(server.url)
        responder.sign_in(RESPONDER)
        admin.sign_in(ADMIN)
        csrf = responder.csrf()
        api(server, "POST", "/v1/incidents", ADMIN, {"id": "x", "title": "X", "severity": "P1"})

        newcomer = "night-shift-token-0123456789abcdef"
        tokens = [token for token in document["server"]["tokens"] if token["name"] != "pager-bot"]
        document["server"]["tokens"] = [*tokens, {"name": "night-shift", "token": newcomer, "scopes": ["respond"]}]
        path.write_text(yaml.safe_dump(document))
        assert api(server, "POST", "/v1/config/reload", ADMIN)[0] == 200

        assert responder.get("/ui/incidents")[0] == 303  # its token is gone: so is the session
        assert responder.get("/ui/live/incidents")[0] == 401
        assert responder.post("/ui/incidents/x/acknowledge", {"csrf": csrf})[0] == 401
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["status"] == "active"
        assert admin.get("/ui/incidents")[0] == 200  # its token is still there
        night = Visitor(server.url)
        status, headers, _ = night.sign_in(newcomer)
        assert (status, headers["location"]) == (303, "/ui/incidents")
        assert "night-shift" in night.get("/ui/incidents")[2]


@pytest.mark.parametrize(("field", "value"), [("session_hours", 1), ("session_secret_env", "TOCSIN_OTHER_KEY")])
def test_the_console_session_settings_need_a_restart(tmp_path: Path, field: str, value: Any):
    path = tmp_path / "tocsin.yaml"
    document = yaml.safe_load(CONFIG)
    path.write_text(yaml.safe_dump(document))
    with served(document, tocsin.ManualClock(START), source=path) as server:
        document["server"][field] = value
        path.write_text(yaml.safe_dump(document))
        status, answer = api(server, "POST", "/v1/config/reload", ADMIN)
        assert status == 422
        assert [error["path"] for error in answer["errors"]] == [f"$.server.{field}"]
        assert "console sessions are set up when the server starts" in answer["error"]


def test_behind_a_proxy_at_a_path_the_console_writes_its_addresses_under_that_path(mailbox: Mailbox):
    # public_url https://pager.example.com/tocsin: the proxy takes /tocsin/... and passes /... on (as it does for
    # /v1/links/...). Every address the console hands the browser (redirects, links, forms, assets, its cookie's
    # path) must be under /tocsin/ui, or the browser leaves tocsin (or never sends the cookie back).
    document = mail_document(mailbox)
    document["server"]["public_url"] = f"{PUBLIC_URL}/tocsin"
    with served(document, tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "Disk full on db1", "severity": "P1"})
        (message,) = waited(lambda: mailbox.to(ONCALL))
        opens = links_in(text_part(message))["Open in tocsin"].removeprefix(PUBLIC_URL)
        assert opens.startswith("/tocsin/ui/links/")

        browser = Proxied(server.url, "/tocsin")
        status, headers, _ = browser.send("GET", opens)
        assert (status, headers["location"]) == (303, "/tocsin/ui/incidents/x")
        assert "Path=/tocsin/ui" in headers["set-cookie"]
        status, _, page = browser.send("GET", headers["location"])
        assert status == 200 and f'{ONCALL} <small class="scope">respond</small>' in page
        addresses = re.findall(r'(?:href|src|action|data-refresh)="(/[^"]*)"', page)
        assert addresses and all(address.startswith("/tocsin/ui/") for address in addresses), addresses
        assert 'href="/tocsin/ui/incidents" aria-current="page"' in page
        status, headers, _ = browser.send("POST", "/tocsin/ui/incidents/x/acknowledge", {"csrf": csrf_of(page)})
        assert (status, headers["location"]) == (303, "/tocsin/ui/incidents/x?done=acknowledge")

        anonymous = Proxied(server.url, "/tocsin")
        assert anonymous.send("GET", "/tocsin/")[1]["location"] == "/tocsin/ui/"
        status, headers, _ = anonymous.send("GET", "/tocsin/ui/oncall")
        assert (status, headers["location"]) == (303, "/tocsin/ui/sign-in?next=%2Ftocsin%2Fui%2Foncall")
        _, _, page = anonymous.send("GET", headers["location"])
        form = {"csrf": csrf_of(page), "token": RESPONDER, "next": "/tocsin/ui/oncall"}
        status, headers, _ = anonymous.send("POST", "/tocsin/ui/sign-in", form)
        assert (status, headers["location"]) == (303, "/tocsin/ui/oncall")
        assert anonymous.send("GET", "/tocsin/ui/oncall")[0] == 200
