"""The web console in a real browser (Debian's Chromium, headless) against a real server on 127.0.0.1.

An on-call engineer signs in with a token, sees an incident raised through the API appear in the list without
reloading, opens it, acknowledges it, sees the timeline say so, and sees the next level not fire when the
server's manual clock passes its time. A read-only session has no action buttons; a form posted without the
CSRF token is refused. Each page's screenshot is what docs/ui.md shows (see support.console.screenshot).
"""

from __future__ import annotations

import pytest
import yaml
from support.console import api, csrf_of, example_document, screenshot, served
from support.server import CONFIG, READER, RESPONDER, START

import tocsin

pytestmark = pytest.mark.xdist_group("browser")  # one worker runs them all, with one Chromium

ADMIN_TOKEN = "example-admin-token-change-me"
READ_TOKEN = "example-read-token-change-me"


def sign_in(page, url: str, token: str, name: str = "") -> None:
    page.goto(url + "/")
    assert page.url.startswith(url + "/ui/sign-in")
    page.get_by_label("API token").fill(token)
    if name:
        page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/ui/incidents")


def refreshed(page, selector: str, times: int = 2) -> None:
    """Wait until the part ``selector`` has been refreshed from the server ``times`` more times."""
    before = int(page.locator(selector).get_attribute("data-refreshes") or 0)
    page.locator(f'{selector}[data-refreshes="{before + times}"]').wait_for(state="attached")


def test_an_incident_raised_by_the_api_appears_is_acknowledged_and_the_next_level_never_fires(context, tmp_path):
    clock = tocsin.ManualClock(START)  # Monday 09:00 in New York: engineer1 is on call
    with served(load_yaml_document(), clock) as server:
        page = context.new_page()
        sign_in(page, server.url, RESPONDER, "engineer1@example.com")
        assert page.get_by_text("No incidents open match.").is_visible()
        page.evaluate("window.stayed = true")  # gone if the page reloads

        incident = {"id": "disk-db1", "title": "Disk full on db1", "severity": "P1"}
        assert api(server, "POST", "/v1/incidents", RESPONDER, incident)[0] == 201
        page.get_by_role("link", name="Disk full on db1").wait_for()
        assert page.evaluate("window.stayed") is True
        row = page.locator("#rows tr", has_text="Disk full on db1")
        assert "active" in row.inner_text() and "0 of 3" in row.inner_text()

        page.get_by_role("link", name="Disk full on db1").click()
        page.wait_for_url(server.url + "/ui/incidents/disk-db1")
        timeline = page.locator(".timeline")
        assert "escalation started" in timeline.inner_text()
        assert "level fired · level 0" in timeline.inner_text()
        page.evaluate("window.stayed = true")
        note = {"text": "restarting the cleaner", "by": "engineer2@example.com"}
        assert api(server, "POST", "/v1/incidents/disk-db1/notes", RESPONDER, note)[0] == 201
        timeline.get_by_text("restarting the cleaner").wait_for()  # the page's forms do not stop its refresh
        assert page.evaluate("window.stayed") is True

        page.get_by_role("button", name="Acknowledge", exact=True).click()
        page.get_by_role("status").filter(has_text="Acknowledged").wait_for()
        assert "acknowledged" in page.locator("#now").inner_text()
        assert "by engineer1@example.com" in timeline.inner_text()
        assert page.get_by_role("button", name="Acknowledge", exact=True).count() == 0
        assert page.get_by_role("button", name="Snooze").count() == 1

        page.get_by_label("Note").fill("db1 is out of disk; cleaning up")
        page.get_by_role("button", name="Add note").click()
        page.get_by_role("status").filter(has_text="Note added").wait_for()
        assert "db1 is out of disk; cleaning up" in timeline.inner_text()

        server.advance(clock, minutes=20)  # level 1 was due at 5 minutes, level 2 at 15
        refreshed(page, "#live")
        assert "level 1" not in timeline.inner_text() and "level 2" not in timeline.inner_text()
        answered, escalation = api(server, "GET", "/v1/escalations/disk-db1", READER)
        assert answered == 200
        assert escalation["status"] == "acknowledged"
        assert {delivery["notification"]["level"] for delivery in escalation["deliveries"]} == {0}


def test_an_override_made_in_the_calendar_is_who_the_api_says_is_on_call(context):
    clock = tocsin.ManualClock(START)  # Monday 09:00 in New York: engineer1 is on call
    with served(load_yaml_document(), clock) as server:
        page = context.new_page()
        sign_in(page, server.url, RESPONDER, "engineer1@example.com")
        page.get_by_role("link", name="On call").click()
        page.get_by_role("link", name="Primary On-Call").click()
        assert page.locator(".overrides rect").count() == 0

        page.get_by_label("Who", exact=True).select_option("engineer2@example.com")
        page.get_by_label("Until (America/New_York)").fill("2026-03-02T08:00")  # before now: refused
        page.get_by_role("button", name="Make override").click()
        assert "end: must be after start" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Who", exact=True).input_value() == "engineer2@example.com"  # the form is kept

        page.get_by_label("Until (America/New_York)").fill("2026-03-02T13:00")
        page.get_by_label("Note").fill("dentist at 9")
        page.get_by_role("button", name="Make override").click()
        page.get_by_role("status").filter(has_text="Override made").wait_for()
        assert page.locator(".overrides rect").count() == 1
        status, answer = api(server, "GET", "/v1/schedules/primary-oncall/oncall", READER)
        assert status == 200
        assert [(entry["user"], entry["shift_end"]) for entry in answer["oncall"]] == [
            ("engineer2@example.com", "2026-03-02T13:00:00-05:00")
        ]
        later = api(server, "GET", "/v1/schedules/primary-oncall/oncall?at=2026-03-02T13:00:00", READER)[1]
        assert [entry["user"] for entry in later["oncall"]] == ["engineer1@example.com"]


def test_a_read_only_session_sees_everything_and_can_act_on_nothing(context, tmp_path):
    clock = tocsin.ManualClock(START)
    with served(load_yaml_document(), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "cpu-1", "title": "CPU high", "severity": "P1"})
        page = context.new_page()
        sign_in(page, server.url, READER)
        page.get_by_role("link", name="CPU high").click()
        assert page.locator(".timeline").inner_text()
        assert page.locator(".actions button").count() == 0
        assert page.get_by_role("button", name="Acknowledge", exact=True).count() == 0
        assert page.locator("header .scope").inner_text() == "read"

        # Even with the session's own CSRF token, a read session's post is refused.
        token = csrf_of(page.content())
        answer = page.request.post(server.url + "/ui/incidents/cpu-1/acknowledge", form={"csrf": token})
        assert answer.status == 403
        assert "needs respond" in answer.text()
        assert api(server, "GET", "/v1/escalations/cpu-1", READER)[1]["status"] == "active"


def test_a_forged_post_without_the_csrf_token_is_refused(context):
    clock = tocsin.ManualClock(START)
    with served(load_yaml_document(), clock) as server:
        api(server, "POST", "/v1/incidents", RESPONDER, {"id": "mem-1", "title": "Memory leak", "severity": "P1"})
        page = context.new_page()
        sign_in(page, server.url, RESPONDER)
        for form in ({}, {"csrf": "not-the-token"}):
            answer = page.request.post(server.url + "/ui/incidents/mem-1/acknowledge", form=form)
            assert answer.status == 403
            assert "CSRF" in answer.text()
        assert api(server, "GET", "/v1/escalations/mem-1", READER)[1]["status"] == "active"


def test_every_page_on_the_example_config_with_screenshots(browser, tmp_path):
    clock = tocsin.ManualClock(START)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/London", locale="en-GB")
    with context, served(example_document(), clock) as server:
        raise_examples(server, clock)
        page = context.new_page()
        page.goto(server.url + "/")
        screenshot(page, "sign-in", tmp_path)
        sign_in(page, server.url, ADMIN_TOKEN, "engineer3@example.com")
        assert page.locator("#rows tr").count() == 4  # the resolved one is not open
        screenshot(page, "incidents", tmp_path)

        page.get_by_role("link", name="Database primary unreachable").click()
        assert page.locator(".levels li.current").inner_text().startswith("+5 min")
        assert "failing over to the replica" in page.locator(".timeline").inner_text()
        assert page.get_by_role("button", name="Cancel escalation").count() == 1  # admin scope
        screenshot(page, "incident", tmp_path)

        page.get_by_role("link", name="On call").click()
        card = page.locator(".card", has_text="Primary On-Call")
        assert "engineer3@example.com" in card.inner_text()  # the config's override of that day
        # The schedule's zone, and the viewer's (London) beside it: 09:00 in New York is 14:00 in London.
        assert "until Tue 3 Mar 09:00 EST (Tue 3 Mar, 14:00 GMT yours)" in card.inner_text()
        screenshot(page, "oncall", tmp_path)

        page.get_by_role("link", name="Primary On-Call").click()
        assert [name.inner_text() for name in page.locator(".cal-name").all()][1:] == [
            "Primary",
            "After Hours",
            "Overrides",
            "On call",
        ]
        assert page.locator(".overrides rect").count() == 2  # the config's, and one made at run time
        page.get_by_label("Time (America/New_York)").fill("2026-03-10T12:00")
        page.get_by_role("button", name="Look up").click()
        assert "engineer2@example.com" in page.locator("#at").locator("..").inner_text()
        screenshot(page, "schedule", tmp_path)

        page.get_by_role("link", name="Policies").click()
        assert "Route Security Incidents" not in page.content()  # no rule names a policy in the example
        assert page.locator(".chain").first.locator("li").count() == 3
        screenshot(page, "policies", tmp_path)


def test_the_list_fits_a_phone(browser, tmp_path):
    clock = tocsin.ManualClock(START)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Europe/Berlin", is_mobile=True)
    try:
        with served(example_document(), clock) as server:
            raise_examples(server, clock)
            page = phone.new_page()
            sign_in(page, server.url, ADMIN_TOKEN)
            for path in (
                "/ui/incidents",
                "/ui/incidents/db-down",
                "/ui/oncall",
                "/ui/schedules/primary-oncall",
                "/ui/policies",
            ):
                page.goto(server.url + path)
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
            page.goto(server.url + "/ui/incidents")
            screenshot(page, "incidents-phone", tmp_path)
    finally:
        phone.close()


def load_yaml_document() -> dict:
    """The API tests' config: a schedule, a three-level policy, a token of each scope."""
    return yaml.safe_load(CONFIG)


def raise_examples(server, clock: tocsin.ManualClock) -> None:
    """A few incidents of different ages and states on the example config."""
    raised = [
        ("api-5xx", "API error rate above 5%", "P2", {"service": "api"}),
        ("disk-db1", "Disk 95% full on db1", "P1", {"host": "db1"}),
        ("cert-expiry", "TLS certificate expires in 3 days", "P3", {}),
        ("db-down", "Database primary unreachable", "P0", {"service": "db", "team": "platform"}),
        ("queue-lag", "Queue consumer lag over 10 minutes", "P1", {"service": "queue"}),
    ]
    for incident_id, title, severity, labels in raised:
        body = {"id": incident_id, "title": title, "severity": severity, "source": "monitoring", "labels": labels}
        assert api(server, "POST", "/v1/incidents", ADMIN_TOKEN, body)[0] == 201
        server.advance(clock, minutes=3)
    assert (
        api(server, "POST", "/v1/incidents/disk-db1/acknowledge", ADMIN_TOKEN, {"by": "engineer1@example.com"})[0]
        == 200
    )
    assert api(server, "POST", "/v1/incidents/queue-lag/resolve", ADMIN_TOKEN)[0] == 200
    server.advance(clock, minutes=2)
    note = {"text": "Primary refuses connections; failing over to the replica.", "by": "engineer3@example.com"}
    assert api(server, "POST", "/v1/incidents/db-down/notes", ADMIN_TOKEN, note)[0] == 201
    cover = {"user": "engineer2@example.com", "start": "2026-03-05T14:00:00Z", "end": "2026-03-05T22:00:00Z"}
    cover["note"] = "engineer1 is at the dentist"
    assert api(server, "POST", "/v1/schedules/primary-oncall/overrides", ADMIN_TOKEN, cover)[0] == 201
    server.advance(clock, minutes=2)  # db-down's level 1 (5 minutes) fires, the others' wait
