"""Heartbeat monitors through HTTP on a real server on a SQLite file, on a manual clock: a missed heartbeat opens
exactly one incident at interval + 0 s, routed and escalated like any other; the next ping resolves it; the
deadlines survive a restart; two instances on one store open one incident between them."""

from __future__ import annotations

from datetime import timedelta

import yaml
from support.api import Api, running
from support.server import ADMIN, CONFIG, READER, START

import tocsin

TOKEN = "backup-job-token-0123456789"
PING = "/v1/heartbeats/nightly-backup"


def config() -> dict:
    document = yaml.safe_load(CONFIG)
    document["heartbeats"] = {
        "nightly-backup": {
            "interval": "25h",
            "token": TOKEN,
            "incident": {"title": "Nightly backup did not check in", "severity": "P1", "labels": {"team": "db"}},
        }
    }
    return document


def ping(api: Api, token: str | None = TOKEN):
    return api.call("POST", PING, None, headers={"Authorization": f"Bearer {token}"} if token else {})


async def heartbeat_incidents(api: Api) -> list[dict]:
    page = await api.ok("GET", "/v1/incidents?label=heartbeat=nightly-backup", READER)
    return page["incidents"]


async def test_a_missed_heartbeat_opens_one_incident_at_its_deadline_and_a_ping_resolves_it(tmp_path):
    async with running(config(), db=tmp_path / "tocsin.db") as api:
        api.advance(hours=1)
        status, pinged = await ping(api)
        assert status == 200
        assert (pinged["status"], pinged["last_ping"], pinged["due_at"]) == (
            "ok",
            "2026-03-02T15:00:00+00:00",
            "2026-03-03T16:00:00+00:00",  # 25 hours after the ping
        )
        api.advance(hours=25, seconds=-1)
        assert await heartbeat_incidents(api) == []
        api.advance(seconds=1)  # the deadline, to the second
        (incident,) = await heartbeat_incidents(api)
        assert (incident["title"], incident["severity"], incident["dedup_key"]) == (
            "Nightly backup did not check in",
            "P1",
            "heartbeat/nightly-backup",
        )
        assert incident["labels"] == {"team": "db", "heartbeat": "nightly-backup"}
        assert incident["created_at"] == "2026-03-03T16:00:00+00:00"
        assert api.paged(incident["id"]) == [(0, "engineer1@example.com")]  # the standard P1 policy pages
        api.advance(hours=30)
        assert len(await heartbeat_incidents(api)) == 1  # one miss, one incident
        (listed,) = (await api.ok("GET", "/v1/heartbeats", READER))["heartbeats"]
        assert (listed["status"], listed["incident_id"], listed["misses"]) == ("missed", incident["id"], 1)

        status, pinged = await ping(api)
        assert (pinged["status"], pinged["resolved"], pinged["misses"]) == ("ok", incident["id"], 1)
        detail = await api.ok("GET", f"/v1/incidents/{incident['id']}", READER)
        assert (detail["incident"]["state"], detail["escalation"]["status"]) == ("Resolved", "resolved")
        status, again = await ping(api)
        assert again["resolved"] is None


async def test_a_heartbeat_is_due_one_interval_after_the_server_first_sees_it(tmp_path):
    async with running(config()) as api:
        (listed,) = (await api.ok("GET", "/v1/heartbeats", READER))["heartbeats"]
        assert (listed["armed_at"], listed["last_ping"], listed["due_at"]) == (
            "2026-03-02T14:00:00+00:00",
            None,
            "2026-03-03T15:00:00+00:00",
        )
        api.advance(hours=25)
        assert len(await heartbeat_incidents(api)) == 1


async def test_the_deadline_survives_a_restart_and_a_deadline_passed_while_down_fires_at_start(tmp_path):
    db = tmp_path / "tocsin.db"
    clock = tocsin.ManualClock(START)
    async with running(config(), db=db, clock=clock) as api:
        await ping(api)
    clock.advance(hours=24)
    async with running(config(), db=db, clock=clock) as api:
        listed = (await api.ok("GET", "/v1/heartbeats", READER))["heartbeats"][0]
        assert listed["due_at"] == "2026-03-03T15:00:00+00:00"  # 25 h after the ping before the restart
        assert await heartbeat_incidents(api) == []
    clock.advance(hours=2)  # the deadline passes while nothing runs
    async with running(config(), db=db, clock=clock) as api:
        api.advance(seconds=1)
        (incident,) = await heartbeat_incidents(api)
    async with running(config(), db=db, clock=clock) as api:  # a restart while missed opens nothing more
        api.advance(hours=30)
        assert [i["id"] for i in await heartbeat_incidents(api)] == [incident["id"]]


async def test_two_instances_on_one_store_open_one_incident_for_one_miss(tmp_path):
    db = tmp_path / "tocsin.db"
    clock = tocsin.ManualClock(START)
    async with running(config(), db=db, clock=clock) as first, running(config(), db=db, clock=clock) as second:
        second.advance(hours=1)
        await ping(second)  # the ping reaches one instance; the other still holds the first deadline (25 h)
        second.advance(hours=24, minutes=30)
        first.advance(seconds=0)  # both wake past the first deadline: the store says 26 h
        await first.ok("GET", "/health", None)
        assert await heartbeat_incidents(first) == []
        second.advance(hours=1)  # past 26 h: both instances find the miss, one of them opens the incident
        first.advance(seconds=0)
        await first.ok("GET", "/health", None)
        assert len(await heartbeat_incidents(first)) == 1
        second.advance(minutes=1)
        first.advance(seconds=0)
        assert len(await heartbeat_incidents(second)) == 1


async def test_a_ping_needs_the_heartbeats_own_token():
    async with running(config()) as api:
        status, body = await ping(api, None)
        assert status == 401 and "needs its token" in body["error"]
        status, body = await ping(api, ADMIN)  # an API token is not the heartbeat's
        assert status == 401 and "wrong token" in body["error"]
        status, _ = await api.call("POST", f"{PING}?token={TOKEN}", None)
        assert status == 200
        status, body = await api.call("POST", "/v1/heartbeats/nope", None, headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 404


async def test_a_reload_arms_a_new_heartbeat_and_moves_a_deadline_whose_interval_changed(tmp_path):
    path = tmp_path / "tocsin.yaml"
    document = config()
    path.write_text(yaml.safe_dump(document))
    async with running(document, config_source=path) as api:
        document["heartbeats"]["nightly-backup"]["interval"] = "2h"
        document["heartbeats"]["hourly-sync"] = {"interval": "1h", "token": TOKEN + "-sync"}
        path.write_text(yaml.safe_dump(document))
        api.advance(minutes=30)
        await api.ok("POST", "/v1/config/reload")
        listed = {h["name"]: h for h in (await api.ok("GET", "/v1/heartbeats", READER))["heartbeats"]}
        assert listed["nightly-backup"]["due_at"] == "2026-03-02T16:00:00+00:00"  # 2 h from when it was armed
        assert listed["hourly-sync"]["due_at"] == "2026-03-02T15:30:00+00:00"  # armed at the reload
        api.advance(hours=1, minutes=30)
        titles = sorted(i["title"] for i in (await api.ok("GET", "/v1/incidents", READER))["incidents"])
        assert titles == ["Heartbeat hourly-sync missed", "Nightly backup did not check in"]


def test_the_interval_is_a_duration():
    assert tocsin.parse_config(config(), tocsin.load_plugins().registry).heartbeats["nightly-backup"].period == (
        timedelta(hours=25)
    )
