"""The console over plain HTTP against a real server on 127.0.0.1: sessions and their cookie, CSRF, scopes,
the incident list's filters and pages, actions and their errors, and what each page weighs."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
import yaml
from support.console import Visitor, api, csrf_of, example_document, served
from support.docs import ROOT, code_blocks, doc_text
from support.server import ADMIN, CONFIG, READER, RESPONDER, START

import tocsin
from tocsin.server import ServerError, create_app, memory_storage


def document(**server: Any) -> dict[str, Any]:
    parsed = yaml.safe_load(CONFIG)
    parsed["server"].update(server)
    return parsed


def test_the_root_leads_to_the_console_and_an_anonymous_visitor_to_the_sign_in_page():
    with served(document(), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        assert visitor.get("/")[:2][0] == 307 and visitor.get("/")[1]["location"] == "/ui/"
        status, headers, _ = visitor.get("/ui/")
        assert (status, headers["location"]) == (307, "/ui/incidents")
        status, headers, _ = visitor.get("/ui/incidents")
        assert (status, headers["location"]) == (303, "/ui/sign-in?next=%2Fui%2Fincidents")
        assert visitor.get("/ui/live/incidents")[0] == 401
        assert visitor.get("/v1/incidents")[0] == 401  # the API still wants its bearer token


def test_signing_in_sets_an_httponly_lax_cookie_and_a_wrong_token_gets_nothing():
    with served(document(), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        status, _, page = visitor.sign_in("not-a-token-of-this-server")
        assert status == 401 and "not one this server knows" in page
        assert visitor.get("/ui/incidents")[0] == 303
        status, headers, _ = visitor.sign_in(RESPONDER)
        assert (status, headers["location"]) == (303, "/ui/incidents")
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
        assert "Secure" not in cookie
        assert RESPONDER not in cookie
        status, _, page = visitor.get("/ui/incidents")
        assert status == 200 and "pager-bot" in page


def test_the_cookie_is_secure_when_the_public_url_is_https(monkeypatch):
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "a-link-secret-of-at-least-32-characters!")  # a public URL makes links
    with served(document(public_url="https://pager.example.com"), tocsin.ManualClock(START)) as server:
        _, headers, _ = Visitor(server.url).get("/ui/sign-in")
        assert "Secure" in headers["set-cookie"]


def test_after_signing_in_the_visitor_goes_where_they_were_going_but_never_off_site():
    with served(document(), tocsin.ManualClock(START)) as server:
        for asked, went in (("/ui/policies", "/ui/policies"), ("//evil.example/ui/", "/ui/incidents")):
            visitor = Visitor(server.url)
            csrf = csrf_of(visitor.get("/ui/sign-in")[2])
            _, headers, _ = visitor.post("/ui/sign-in", {"csrf": csrf, "token": READER, "next": asked})
            assert headers["location"] == went


def test_a_session_survives_a_restart_with_a_configured_key_and_ends_when_its_token_is_removed(monkeypatch):
    monkeypatch.setenv("TOCSIN_SESSION_KEY", "k" * 40)
    settings = {"session_secret_env": "TOCSIN_SESSION_KEY"}
    with served(document(**settings), tocsin.ManualClock(START)) as first:
        visitor = Visitor(first.url)
        visitor.sign_in(RESPONDER)
        cookies = list(visitor.jar)
    with served(document(**settings), tocsin.ManualClock(START)) as second:
        again = Visitor(second.url)
        for cookie in cookies:
            again.jar.set_cookie(cookie)
        assert again.get("/ui/incidents")[0] == 200
    without = document(**settings)
    without["server"]["tokens"] = [token for token in without["server"]["tokens"] if token["name"] != "pager-bot"]
    with served(without, tocsin.ManualClock(START)) as third:
        revoked = Visitor(third.url)
        for cookie in cookies:
            revoked.jar.set_cookie(cookie)
        assert revoked.get("/ui/incidents")[0] == 303


def test_a_tampered_cookie_is_no_session():
    with served(document(), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(ADMIN)
        for cookie in visitor.jar:
            cookie.value = cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")
        assert visitor.get("/ui/incidents")[0] == 303


def test_a_session_key_variable_that_is_unset_stops_the_server(monkeypatch, builtin_plugins):
    monkeypatch.delenv("TOCSIN_UNSET_KEY", raising=False)
    config = tocsin.parse_config(document(session_secret_env="TOCSIN_UNSET_KEY"), builtin_plugins.registry)
    with pytest.raises(ServerError, match="session_secret_env: the environment variable TOCSIN_UNSET_KEY is not set"):
        create_app(config, builtin_plugins, storage=memory_storage())


def test_a_public_url_that_is_not_http_is_a_config_error(builtin_plugins):
    with pytest.raises(tocsin.ConfigError, match=r"\$\.server\.public_url"):
        tocsin.parse_config(document(public_url="pager.example.com"), builtin_plugins.registry)


def test_an_action_posted_without_the_csrf_token_or_as_something_else_than_a_form_is_refused():
    with served(document(), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER)
        assert visitor.post("/ui/incidents/x/acknowledge", {})[0] == 403
        assert visitor.post("/ui/incidents/x/acknowledge", {"csrf": "forged"})[0] == 403
        csrf = visitor.csrf()
        assert visitor.post("/ui/incidents/x/acknowledge", {"csrf": csrf}, content_type="text/plain")[0] == 415
        assert visitor.post("/ui/sign-out", {})[0] == 403  # signing out is a form too
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["status"] == "active"
        status, headers, _ = visitor.post("/ui/incidents/x/acknowledge", {"csrf": csrf})
        assert (status, headers["location"]) == (303, "/ui/incidents/x?done=acknowledge")
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["acknowledged_by"] == "pager-bot"


def test_a_read_session_sees_no_buttons_and_admin_alone_may_cancel():
    with served(document(), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        buttons = {}
        for token in (READER, RESPONDER, ADMIN):
            visitor = Visitor(server.url)
            visitor.sign_in(token)
            page = visitor.get("/ui/incidents/x")[2]
            buttons[token] = re.findall(r'<button type="submit" class="(?:primary|secondary|danger)">([^<]+)<', page)
        assert buttons == {
            READER: [],
            RESPONDER: ["Acknowledge", "Resolve", "Escalate now", "Reassign", "Add note"],
            ADMIN: ["Acknowledge", "Resolve", "Escalate now", "Reassign", "Add note", "Cancel escalation"],
        }
        responder = Visitor(server.url)
        responder.sign_in(RESPONDER)
        status, _, page = responder.post("/ui/incidents/x/cancel", {"csrf": responder.csrf()})
        assert status == 403 and "cancel escalation needs admin" in page


def buttons_on(visitor: Visitor, path: str) -> list[str]:
    """The labels of the action buttons on a console page."""
    page = visitor.get(path)[2]
    return re.findall(r'<button type="submit" class="(?:primary|secondary|danger)">([^<]+)<', page)


@pytest.mark.parametrize(
    ("action", "form", "status", "last_event"),
    [
        ("acknowledge", {}, "acknowledged", "acknowledged"),
        ("snooze", {"minutes": "30"}, "acknowledged", "snoozed"),
        ("escalate", {}, "active", "level_fired"),
        ("cancel", {}, "cancelled", "cancelled"),
    ],
)
def test_an_exhausted_escalation_nobody_answered_can_be_answered_from_its_page(action, form, status, last_event):
    clock = tocsin.ManualClock(START)
    with served(document(), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        server.advance(clock, minutes=90)  # every level of both passes fired unanswered: exhausted, still open
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["status"], escalation["exhausted"], escalation["open"]) == ("completed", True, True)
        visitor = Visitor(server.url)
        visitor.sign_in(ADMIN, "engineer1@example.com")
        assert buttons_on(visitor, "/ui/incidents/x") == [
            "Acknowledge", "Resolve", "Snooze", "Escalate now", "Reassign", "Add note", "Cancel escalation"
        ]  # fmt: skip
        assert visitor.post(f"/ui/incidents/x/{action}", {"csrf": visitor.csrf(), **form})[0] == 303
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["status"], escalation["events"][-1]["kind"]) == (status, last_event)


def test_escalate_now_is_offered_at_the_last_level_while_a_repeat_is_left_as_the_api_takes_it():
    clock = tocsin.ManualClock(START)
    with served(document(), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        server.advance(clock, minutes=15)  # level 2, the last of pass 0, fired; one repeat is left
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER, "engineer1@example.com")
        assert "Escalate now" in buttons_on(visitor, "/ui/incidents/x")
        assert visitor.post("/ui/incidents/x/escalate", {"csrf": visitor.csrf()})[0] == 303
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["pass_number"], escalation["current_level"]) == (1, 0)


def test_an_action_the_service_refuses_says_why_on_the_incident_page():
    with served(document(), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER, "engineer1@example.com")
        csrf = visitor.csrf()
        status, _, page = visitor.post("/ui/incidents/x/snooze", {"csrf": csrf, "minutes": "30"})
        assert status == 409 and "can be snoozed" in page
        visitor.post("/ui/incidents/x/acknowledge", {"csrf": csrf})
        status, _, page = visitor.post("/ui/incidents/x/acknowledge", {"csrf": csrf})
        assert status == 409 and "already acknowledged by &#39;engineer1@example.com&#39;" in page
        for minutes in ("ten", "0", "9999999"):
            status, _, page = visitor.post("/ui/incidents/x/snooze", {"csrf": csrf, "minutes": minutes})
            assert status == 422 and "minutes" in page, minutes
        assert visitor.post("/ui/incidents/x/snooze", {"csrf": csrf, "minutes": "30"})[0] == 303
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["snoozed_until"] == "2026-03-02T14:30:00+00:00"
        assert visitor.post("/ui/incidents/x/launch", {"csrf": csrf})[0] == 404
        assert visitor.post("/ui/incidents/nope/resolve", {"csrf": csrf})[0] == 404
        status, _, page = visitor.get("/ui/incidents/nope")
        assert status == 404 and "no incident &#39;nope&#39;" in page


def test_notes_un_acknowledging_and_reassigning_from_the_page_do_what_the_api_does():
    with served(document(), tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER, "engineer1@example.com")
        csrf = visitor.csrf()

        status, headers, _ = visitor.post("/ui/incidents/x/note", {"csrf": csrf, "text": "db1 is out of disk"})
        assert (status, headers["location"]) == (303, "/ui/incidents/x?done=note")
        (note,) = api(server, "GET", "/v1/incidents/x/notes", READER)[1]["notes"]
        assert (note["text"], note["by"]) == ("db1 is out of disk", "engineer1@example.com")
        status, _, page = visitor.post("/ui/incidents/x/note", {"csrf": csrf, "text": "  "})
        assert status == 422 and "text: must not be empty" in page

        visitor.post("/ui/incidents/x/acknowledge", {"csrf": csrf})
        _, _, page = visitor.get("/ui/incidents/x")
        assert "Un-acknowledge" in page and ">Acknowledge<" not in page
        assert visitor.post("/ui/incidents/x/unacknowledge", {"csrf": csrf})[0] == 303
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["status"], escalation["events"][-1]["kind"]) == ("active", "unacknowledged")
        assert escalation["events"][-1]["by"] == "engineer1@example.com"

        _, _, page = visitor.get("/ui/incidents/x")  # the select offers the policies, then the people
        offered = re.findall(r'<option value="((?:policy|user):[^"]+)"', page)
        assert offered[0] == "policy:standard-p1" and "user:eng2@example.com" in offered
        for to, message in (("", "choose a policy or a person"), ("policy:nope", "unknown policy &#39;nope&#39;")):
            status, _, page = visitor.post("/ui/incidents/x/reassign", {"csrf": csrf, "to": to})
            assert status == 422 and message in page, to
        status, _, page = visitor.post("/ui/incidents/x/reassign", {"csrf": csrf, "to": "user:stranger@example.com"})
        assert status == 422 and "not a person the config knows" in page
        assert visitor.post("/ui/incidents/x/reassign", {"csrf": csrf, "to": "user:eng2@example.com"})[0] == 303
        escalation = api(server, "GET", "/v1/escalations/x", READER)[1]
        assert (escalation["escalation_id"], escalation["status"]) == ("x#2", "active")
        assert [d["notification"]["recipient"]["address"] for d in escalation["deliveries"]] == ["eng2@example.com"]
        assert api(server, "GET", "/v1/incidents/x", READER)[1]["incident"]["assignees"] == ["eng2@example.com"]


def test_the_incident_page_shows_the_very_timeline_the_api_answers():
    clock = tocsin.ManualClock(START)
    with served(document(), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "x", "title": "X", "severity": "P1"})
        server.advance(clock, minutes=1)
        api(server, "POST", "/v1/incidents/x/notes", RESPONDER, {"text": "looking", "by": "engineer1@example.com"})
        server.advance(clock, minutes=1)
        api(server, "POST", "/v1/incidents/x/reassign", RESPONDER, {"policy": "standard-p1"})
        server.advance(clock, minutes=6)  # the new escalation's level 1 fires too
        api(server, "POST", "/v1/incidents/x/acknowledge", RESPONDER, {"by": "engineer1@example.com"})
        answered = api(server, "GET", "/v1/incidents/x/timeline", READER)[1]["entries"]
        visitor = Visitor(server.url)
        visitor.sign_in(READER)
        _, _, page = visitor.get("/ui/incidents/x")
        shown = re.findall(r'<li class="from-(\w+) kind-(\w+)">\s*<time datetime="([^"]+)"', page)
        assert shown == [(entry["source"], entry["kind"], entry["at"]) for entry in answered]
        kinds = [(source, kind) for source, kind, _ in shown]
        assert ("note", "note") in kinds and ("journal", "reassigned") in kinds
        assert [kind for source, kind in kinds if kind == "started"] == ["started", "started"]  # both escalations
        assert ">x#1</small>" in page and ">x#2</small>" in page and "looking" in page


def test_an_override_made_from_the_calendar_is_made_as_the_api_makes_it_and_counts_everywhere():
    clock = tocsin.ManualClock(START)  # Monday 09:00 in New York: engineer1 is on call
    with served(document(), clock) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER, "engineer1@example.com")
        csrf = visitor.csrf("/ui/schedules/primary-oncall")
        form = {"csrf": csrf, "week": "2026-03-02", "user": "engineer2@example.com", "start": "", "note": "dentist"}
        status, headers, _ = visitor.post("/ui/schedules/primary-oncall/overrides", {**form, "end": "2026-03-02T13:00"})
        assert (status, headers["location"]) == (303, "/ui/schedules/primary-oncall?start=2026-03-02&done=override")

        oncall = api(server, "GET", "/v1/schedules/primary-oncall/oncall", READER)[1]["oncall"]
        assert [(entry["user"], entry["shift_end"]) for entry in oncall] == [
            ("engineer2@example.com", "2026-03-02T13:00:00-05:00")
        ]
        (made,) = api(server, "GET", "/v1/schedules/primary-oncall/overrides", READER)[1]["overrides"]
        assert (made["source"], made["created_by"], made["note"]) == ("api", "engineer1@example.com", "dentist")
        _, _, page = visitor.get("/ui/schedules/primary-oncall?start=2026-03-02&done=override")
        assert "Override made" in page
        overrides_row = page[page.index('<div class="cal-row overrides">') : page.index('<div class="cal-row final">')]
        assert overrides_row.count("<rect") == 1 and "made by engineer1@example.com: dentist" in overrides_row
        assert "engineer2@example.com" in visitor.get("/ui/oncall")[2].split("<h3>Next")[0]
        assert "SUMMARY:On call: engineer2@example.com" in visitor.get("/ui/schedules/primary-oncall.ics")[2]
        server.advance(clock, hours=5)  # 14:00 in New York: the override is over
        oncall = api(server, "GET", "/v1/schedules/primary-oncall/oncall", READER)[1]["oncall"]
        assert [entry["user"] for entry in oncall] == ["engineer1@example.com"]


def test_on_call_now_says_until_when_someone_is_on_call_not_when_their_layer_shift_ends():
    clock = tocsin.ManualClock(START)  # Monday 2026-03-02 09:00 New York: engineer1 holds the week
    with served(document(), clock) as server:
        covered = {
            "user": "engineer1@example.com",
            "start": "2026-03-09T09:00:00-04:00",
            "end": "2026-03-10T09:00:00-04:00",
        }
        status, made = api(server, "POST", "/v1/schedules/primary-oncall/overrides", RESPONDER, covered)
        assert status == 201, made  # engineer1 covers the first day of engineer2's week
        visitor = Visitor(server.url)
        visitor.sign_in(READER)
        page = visitor.get("/ui/oncall")[2]
    now, following = page.split("<h3>Next")[0], page.split("<h3>Next")[1]
    assert "engineer1@example.com" in now and 'datetime="2026-03-10T09:00:00-04:00"' in now  # not the 9th
    assert "engineer2@example.com" in following and 'datetime="2026-03-16T09:00:00-04:00"' in following


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"end": "2026-03-02T08:00"}, "end: must be after start"),
        ({"start": "2026-03-02T08:00", "end": "2026-03-02T10:00"}, "start: is in the past"),
        ({"user": "stranger@example.com", "end": "2026-03-02T10:00"}, "user: &#39;stranger@example.com&#39; is not a"),
        ({"end": "tomorrow"}, "end: expected an ISO 8601 date-time"),
        ({"end": ""}, "end: needed"),
        ({"end": "2026-03-02T10:00", "layer": "Nights"}, "layer: unknown layer &#39;Nights&#39;"),
        ({"end": "2026-03-02T10:00", "note": "x" * 4001}, "note: must be at most 4000 characters"),
    ],
    ids=["end-before-start", "in-the-past", "unknown-person", "not-a-time", "no-end", "unknown-layer", "long-note"],
)
def test_an_override_the_service_refuses_is_shown_with_the_form_kept_and_nothing_made(fields, shown):
    with served(document(max_body_bytes=16384), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER)
        form = {"csrf": visitor.csrf("/ui/schedules/primary-oncall"), "user": "engineer2@example.com", **fields}
        status, _, page = visitor.post("/ui/schedules/primary-oncall/overrides", form)
        assert status == 422 and shown in page
        assert 'value="engineer2@example.com" selected' in page or "stranger" in fields.get("user", "")
        assert api(server, "GET", "/v1/schedules/primary-oncall/overrides", READER)[1]["overrides"] == []


def test_a_read_session_has_no_override_form_and_its_post_is_refused():
    with served(document(), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(READER)
        _, _, page = visitor.get("/ui/schedules/primary-oncall")
        assert "Put someone on call instead" not in page
        form = {"csrf": csrf_of(page), "user": "engineer2@example.com", "end": "2026-03-02T13:00"}
        status, _, page = visitor.post("/ui/schedules/primary-oncall/overrides", form)
        assert status == 403 and "needs respond" in page
        assert visitor.post("/ui/schedules/nope/overrides", form)[0] == 404
        assert api(server, "GET", "/v1/schedules/primary-oncall/overrides", READER)[1]["overrides"] == []


def test_the_list_filters_by_status_severity_policy_and_label_and_pages_newest_first():
    clock = tocsin.ManualClock(START)
    with served(example_document(), clock) as server:
        admin = "example-admin-token-change-me"
        for n in range(30):
            severity = "P1" if n % 3 else "P3"
            labels = {"team": "db" if n % 2 else "web"}
            body = {"id": f"i{n:02}", "title": f"Incident {n:02}", "severity": severity, "labels": labels}
            assert api(server, "POST", "/v1/incidents", admin, body)[0] == 201
        api(server, "POST", "/v1/incidents/i01/acknowledge", admin, {})
        api(server, "POST", "/v1/incidents/i02/acknowledge", admin, {})
        api(server, "POST", "/v1/incidents/i04/resolve", admin, {})
        visitor = Visitor(server.url)
        visitor.sign_in(admin)

        def listed(query: str) -> list[str]:
            status, _, page = visitor.get("/ui/incidents?" + query)
            assert status == 200
            return re.findall(r">Incident (\d\d)</a>", page)

        first = listed("status=open")
        assert first == [f"{n:02}" for n in range(29, 4, -1)]  # 25 a page, newest first, i04 resolved
        assert "offset=25" in visitor.get("/ui/incidents?status=open")[2]
        assert listed("status=open&offset=25") == ["03", "02", "01", "00"]
        assert listed("status=acknowledged") == ["02", "01"]
        assert listed("status=resolved") == ["04"]
        assert len(listed("status=all")) == 25 and listed("status=all&offset=25") == ["04", "03", "02", "01", "00"]
        assert listed("status=open&severity=P3") == ["27", "24", "21", "18", "15", "12", "09", "06", "03", "00"]
        assert listed("status=open&policy=standard-low") == listed("status=open&severity=P3")
        assert listed("status=open&policy=standard-p1&label=team%3Ddb&severity=p1") == [
            "29", "25", "23", "19", "17", "13", "11", "07", "05", "01"
        ]  # fmt: skip
        status, _, page = visitor.get("/ui/incidents?status=later&severity=P9&label=nolabel")
        assert status == 200
        assert "Ignored: status &#39;later&#39;" in page and "severity &#39;P9&#39;" in page and "key=value" in page
        _, _, rows = visitor.get("/ui/live/incidents?status=acknowledged")
        assert rows.count("<tr") == 2 and "<html" not in rows


def test_an_open_server_needs_no_sign_in_and_records_who_acted():
    open_document = document(auth="none")
    open_document["server"].pop("tokens")
    with served(open_document, tocsin.ManualClock(START)) as server:
        api(server, "POST", "/v1/incidents", ADMIN, {"id": "x", "title": "X", "severity": "P1"})
        visitor = Visitor(server.url)
        status, _, page = visitor.get("/ui/incidents/x")
        assert status == 200 and "Acknowledge" in page
        csrf = csrf_of(visitor.get("/ui/sign-in")[2])
        visitor.post("/ui/sign-in", {"csrf": csrf, "acting_as": "ops@example.com"})
        visitor.post("/ui/incidents/x/acknowledge", {"csrf": visitor.csrf()})
        assert api(server, "GET", "/v1/escalations/x", READER)[1]["acknowledged_by"] == "ops@example.com"


def test_every_page_with_its_style_and_script_weighs_under_100_kb():
    clock = tocsin.ManualClock(START)
    with served(example_document(), clock) as server:
        admin = "example-admin-token-change-me"
        for n in range(60):
            api(server, "POST", "/v1/incidents", admin, {"id": f"i{n}", "title": "T" * 200, "severity": "P1"})
        server.advance(clock, minutes=90)  # every level and repeat of i0 has fired
        visitor = Visitor(server.url)
        visitor.sign_in(admin)
        assets = sum(len(visitor.get(f"/ui/static/{name}")[2]) for name in ("console.css", "console.js", "icon.svg"))
        for path in ("/ui/incidents", "/ui/incidents/i0", "/ui/oncall", "/ui/schedules/primary-oncall", "/ui/policies"):
            status, headers, page = visitor.get(path)
            assert status == 200, path
            assert "script-src 'self'" in headers["content-security-policy"]
            assert len(page.encode()) + assets < 100_000, path


@pytest.mark.parametrize("source", code_blocks(doc_text("ui.md"), "yaml"))
def test_each_yaml_example_of_the_console_page_is_a_valid_config(source, builtin_plugins):
    assert source.startswith("# tocsin.yaml")
    tocsin.parse_config(yaml.safe_load(source), builtin_plugins.registry, source="docs/ui.md")


def test_the_readme_sends_people_to_a_console_they_can_sign_in_to_with_the_example_token():
    readme = doc_text("README.md")
    match = re.search(
        r"open http://127\.0\.0\.1:8080/ in a browser and sign in with the example token\s+`([^`]+)`", readme
    )
    assert match, "the README says where the console is and which token signs in"
    with served(example_document(), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        assert visitor.get("/")[1]["location"] == "/ui/"
        status, headers, _ = visitor.sign_in(match.group(1))
        assert (status, headers["location"]) == (303, "/ui/incidents")
        assert visitor.get("/ui/incidents")[0] == 200


def test_the_console_page_shows_a_screenshot_of_every_page_and_each_is_in_the_repository():
    shown = re.findall(r"!\[[^\]]+\]\((ui/[\w-]+\.png)\)", doc_text("ui.md"))
    assert sorted(shown) == sorted(
        f"ui/{name}.png"
        for name in ("sign-in", "incidents", "incidents-phone", "incident", "oncall", "schedule", "policies")
    )
    for path in shown:
        assert (ROOT / "docs" / path).read_bytes().startswith(b"\x89PNG"), path


def test_a_session_lasts_session_hours_from_signing_in_on_the_servers_clock_however_much_it_is_used():
    clock = tocsin.ManualClock(START)
    with served(document(session_hours=2), clock) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(READER)
        server.advance(clock, minutes=90)
        status, headers, _ = visitor.get("/ui/incidents")
        assert status == 200 and "set-cookie" not in {name.lower() for name in headers}  # not re-signed, not extended
        server.advance(clock, minutes=31)
        assert visitor.get("/ui/incidents")[0] == 303
        assert visitor.get("/ui/live/incidents")[0] == 401


def test_a_form_that_stalls_mid_body_gets_408():
    with served(document(body_timeout_seconds=0.2), tocsin.ManualClock(START)) as server:
        visitor = Visitor(server.url)
        visitor.sign_in(RESPONDER)
        cookie = "; ".join(f"{cookie.name}={cookie.value}" for cookie in visitor.jar)
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /ui/incidents/x/acknowledge HTTP/1.1\r\nHost: test\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n"
                + f"Cookie: {cookie}\r\n\r\ncsrf=".encode()
            )
            answer = b""
            while chunk := connection.recv(65536):  # until the server closes the connection
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"connection: close" in answer.lower()
        assert b"did not arrive within 0.2 s" in answer
