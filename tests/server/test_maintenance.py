"""Maintenance windows through HTTP on a real server on a SQLite file, on a manual clock: an incident inside a
matching window is stored, marked suppressed, and pages nobody; with ``on_end: escalate`` it pages at the
window's end (also after a restart), with ``drop`` never; ending a window early releases what it held; config
windows recur weekly."""

from __future__ import annotations

import pytest
import yaml
from support.api import running
from support.server import CONFIG, READER, RESPONDER, START

import tocsin

ENG1 = "engineer1@example.com"
STAGING = {"labels": {"env": "staging"}}


def config(**sections: object) -> dict:
    document = yaml.safe_load(CONFIG)
    document.update(sections)
    return document


async def test_an_incident_inside_a_window_pages_nobody_and_pages_at_the_windows_end(tmp_path):
    async with running(config(), db=tmp_path / "tocsin.db") as api:
        window = await api.ok(
            "POST",
            "/v1/maintenance",
            RESPONDER,
            json={"duration": "1h", "match": STAGING, "reason": "deploying the API"},
        )
        assert (window["start"], window["end"], window["on_end"], window["created_by"]) == (
            "2026-03-02T14:00:00+00:00",
            "2026-03-02T15:00:00+00:00",
            "escalate",
            "pager-bot",
        )
        api.advance(minutes=10)
        held = await api.raise_incident(labels={"env": "staging"})
        assert (held["suppressed"], held["maintenance_window"], held["suppressed_until"]) == (
            "maintenance",
            window["id"],
            "2026-03-02T15:00:00+00:00",
        )
        other = await api.raise_incident(labels={"env": "prod"})
        assert other["suppressed"] is None and api.paged(other["incident"]["id"]) == [(0, ENG1)]
        held_id = held["incident"]["id"]
        api.advance(minutes=49, seconds=59)
        assert api.paged(held_id) == []
        detail = await api.ok("GET", f"/v1/incidents/{held_id}", READER)
        assert detail["suppressed"] == "maintenance"
        assert (detail["suppression"]["window_id"], detail["suppression"]["on_end"]) == (window["id"], "escalate")
        api.advance(seconds=1)  # the window's end
        assert api.paged(held_id) == [(0, ENG1)]
        state = await api.ok("GET", f"/v1/escalations/{held_id}", READER)
        assert state["deliveries"][0]["notification"]["due_at"] == "2026-03-02T15:00:00+00:00"
        timeline = await api.ok("GET", f"/v1/incidents/{held_id}/timeline", READER)
        assert [e["kind"] for e in timeline["entries"]][:3] == ["raised", "suppressed", "started"]


async def test_a_held_escalation_pages_at_the_windows_end_after_a_restart(tmp_path):
    db = tmp_path / "tocsin.db"
    clock = tocsin.ManualClock(START)
    async with running(config(), db=db, clock=clock) as api:
        await api.ok("POST", "/v1/maintenance", json={"duration": "30m"})
        held_id = (await api.raise_incident())["incident"]["id"]
    clock.advance(minutes=20)
    async with running(config(), db=db, clock=clock) as api:
        assert api.paged(held_id) == []
        api.advance(minutes=10)
        assert api.paged(held_id) == [(0, ENG1)]


async def test_with_on_end_drop_a_held_incident_never_pages_and_is_not_repaired(tmp_path):
    async with running(config()) as api:
        await api.ok("POST", "/v1/maintenance", json={"duration": "1h", "on_end": "drop"})
        held = await api.raise_incident()
        assert held["suppressed"] == "maintenance" and held["escalation"] is None
        api.advance(hours=3)
        repairs = api.server.call(api.service.reconcile)
        assert repairs.started == ()
        detail = await api.ok("GET", f"/v1/incidents/{held['incident']['id']}", READER)
        assert (detail["escalation"], detail["suppression"]["on_end"]) == (None, "drop")


async def test_ending_a_window_early_releases_the_escalations_it_held():
    async with running(config()) as api:
        window = await api.ok("POST", "/v1/maintenance", json={"end": "2026-03-02T16:00:00Z"})
        first = (await api.raise_incident())["incident"]["id"]
        second = (await api.raise_incident(title="Disk"))["incident"]["id"]
        await api.ok("POST", f"/v1/incidents/{second}/resolve")
        api.advance(minutes=15)
        ended = await api.ok("POST", f"/v1/maintenance/{window['id']}/end", RESPONDER)
        assert ended["released"] == [first]
        assert (ended["window"]["ended_at"], ended["window"]["ended_by"]) == ("2026-03-02T14:15:00+00:00", "pager-bot")
        assert api.paged(first) == [(0, ENG1)]
        assert api.paged(second) == []
        later = await api.raise_incident(title="after")
        assert later["suppressed"] is None
        status, body = await api.call("POST", f"/v1/maintenance/{window['id']}/end")
        assert status == 409 and "closed" in body["error"]
        status, _ = await api.call("POST", "/v1/maintenance/nope/end")
        assert status == 404
        assert (await api.ok("GET", "/v1/maintenance", READER))["windows"] == []


async def test_a_weekly_config_window_holds_what_arrives_in_each_occurrence_and_can_be_ended_by_name():
    weekly = {
        "nightly-deploy": {
            "timezone": "America/New_York",
            "weekly": {"days_of_week": [1], "start_hour": 8, "end_hour": 10},  # Mondays 08:00-10:00
            "match": {"source": "ci"},
            "reason": "Monday deploys",
        }
    }
    async with running(config(maintenance=weekly)) as api:
        listed = (await api.ok("GET", "/v1/maintenance", READER))["windows"]
        occurrence = "nightly-deploy@2026-03-02T08:00:00-05:00"
        assert [(w["id"], w["source"], w["end"]) for w in listed] == [
            (occurrence, "config", "2026-03-02T10:00:00-05:00")
        ]
        held = await api.raise_incident(source="ci")
        assert held["maintenance_window"] == occurrence
        not_ci = await api.raise_incident(source="monitoring")
        assert not_ci["suppressed"] is None
        api.advance(minutes=30)
        ended = await api.ok("POST", "/v1/maintenance/nightly-deploy/end")
        assert (ended["window"]["id"], ended["released"]) == (occurrence, [held["incident"]["id"]])
        assert (await api.raise_incident(source="ci"))["suppressed"] is None  # this occurrence is over
        api.advance(days=7, hours=-1)  # next Monday 09:30 (EDT now: 13:30 UTC), the next occurrence
        assert (await api.raise_incident(source="ci"))["maintenance_window"] == (
            "nightly-deploy@2026-03-09T08:00:00-04:00"  # after the switch to daylight saving time
        )


async def test_a_window_can_hold_only_what_one_integration_sends():
    integrations = {"alerts": {"type": "generic", "token": "alerts-token-0123456789", "dedup_key": "id", "title": "t"}}
    async with running(config(integrations=integrations)) as api:
        await api.ok("POST", "/v1/maintenance", json={"duration": "1h", "match": {"integration": "alerts"}})
        receipt = await api.ok(
            "POST",
            "/v1/integrations/alerts",
            None,
            json={"id": "a1", "t": "Queue backed up"},
            headers={"Authorization": "Bearer alerts-token-0123456789"},
        )
        incident_id = receipt["outcomes"][0]["incident_id"]
        assert (await api.ok("GET", f"/v1/incidents/{incident_id}", READER))["suppressed"] == "maintenance"
        direct = await api.raise_incident()
        assert direct["suppressed"] is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"duration": "1h", "end": "2026-03-02T16:00:00Z"}, "$.end"),
        ({}, "$.end"),
        ({"end": "2026-03-02T13:00:00Z"}, "$.end"),
        ({"start": "2026-03-02T16:00:00Z", "end": "2026-03-02T15:00:00Z"}, "$.end"),
        ({"duration": "soon"}, "$.duration"),
        ({"duration": "1h", "on_end": "page"}, "$.on_end"),
        ({"duration": "1h", "match": {"labels": {"env": 3}}}, "$.match.labels['env']"),
    ],
)
async def test_a_bad_window_is_a_422_naming_the_field(body, path):
    async with running(config()) as api:
        status, answer = await api.call("POST", "/v1/maintenance", json=body)
        assert status == 422 and answer["errors"][0]["path"] == path, answer
        assert (await api.ok("GET", "/v1/maintenance", READER))["windows"] == []
