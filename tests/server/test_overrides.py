"""Overrides and swaps made at run time, through HTTP on a real server on a SQLite file: they change who the API
says is on call and who a level pages, survive a restart, and never rewrite the past.

The schedule (support.server.CONFIG) is weekly from Monday 09:00 New York: engineer1 holds the week of
2026-03-02, engineer2 the week of 2026-03-09. The clock starts on Monday 2026-03-02 at 09:00 New York.
"""

from __future__ import annotations

import pytest
from support.api import running
from support.server import ADMIN, CONFIG, READER, RESPONDER

NY = "-05:00"
ENG1, ENG2, ENG3 = "engineer1@example.com", "engineer2@example.com", "eng1@example.com"  # ENG3: a team member
SCHEDULE = "/v1/schedules/primary-oncall"
SWAP = {
    "first": {"user": ENG1, "start": f"2026-03-03T09:00:00{NY}", "end": f"2026-03-04T09:00:00{NY}"},
    "second": {"user": ENG2, "start": f"2026-03-10T09:00:00{NY}", "end": f"2026-03-11T09:00:00{NY}"},
    "note": "dentist on Tuesday",
}


def oncall(answer: dict) -> list[str]:
    return [entry["user"] for entry in answer["oncall"]]


async def test_a_swap_changes_who_is_on_call_and_who_a_level_pages_and_survives_a_restart(tmp_path):
    db = tmp_path / "tocsin.db"
    async with running(CONFIG, db=db) as api:
        made = await api.ok("POST", f"{SCHEDULE}/swaps", RESPONDER, json=SWAP)
        assert [(o["user"], o["start"], o["end"], o["layer"]) for o in made["overrides"]] == [
            (ENG2, "2026-03-03T09:00:00-05:00", "2026-03-04T09:00:00-05:00", "Primary"),
            (ENG1, "2026-03-10T09:00:00-05:00", "2026-03-11T09:00:00-05:00", "Primary"),
        ]
        assert {o["swap_id"] for o in made["overrides"]} == {made["swap_id"]}
        assert {o["created_by"] for o in made["overrides"]} == {"pager-bot"}
        tuesday = await api.ok("GET", f"{SCHEDULE}/oncall?at=2026-03-03T12:00:00", READER)
        assert oncall(tuesday) == [ENG2]
        assert tuesday["oncall"][0]["shift_start"] == "2026-03-03T09:00:00-05:00"

    clock = api.clock
    async with running(CONFIG, db=db, clock=clock) as api:  # a restart on the same file
        assert oncall(await api.ok("GET", f"{SCHEDULE}/oncall?at=2026-03-03T12:00:00", READER)) == [ENG2]
        assert oncall(await api.ok("GET", f"{SCHEDULE}/oncall?at=2026-03-10T12:00:00", READER)) == [ENG1]
        assert oncall(await api.ok("GET", f"{SCHEDULE}/oncall?at=2026-03-04T12:00:00", READER)) == [ENG1]
        api.advance(hours=27)  # Tuesday 12:00 New York
        raised = await api.raise_incident()
        assert api.paged(raised["incident"]["id"]) == [(0, ENG2)]  # the swap, not the rotation


async def test_a_swap_in_the_past_is_refused_naming_the_field_and_changes_nothing():
    async with running(CONFIG) as api:
        past = {**SWAP, "first": {**SWAP["first"], "start": f"2026-03-02T08:00:00{NY}"}}
        status, body = await api.call("POST", f"{SCHEDULE}/swaps", RESPONDER, json=past)
        assert status == 422
        assert [(e["path"], e["message"][:16]) for e in body["errors"]] == [("$.first.start", "is in the past (")]
        assert (await api.ok("GET", f"{SCHEDULE}/overrides", READER))["overrides"] == []
        api.advance(days=1, hours=1)  # Tuesday 10:00: the first shift has begun
        status, body = await api.call("POST", f"{SCHEDULE}/swaps", RESPONDER, json=SWAP)
        assert status == 422 and body["errors"][0]["path"] == "$.first.start"


async def test_only_a_shift_someone_holds_can_be_swapped_and_between_two_known_people():
    async with running(CONFIG) as api:
        wrong = {**SWAP, "first": {**SWAP["first"], "user": ENG3}}  # not on call that Tuesday
        status, body = await api.call("POST", f"{SCHEDULE}/swaps", RESPONDER, json=wrong)
        assert status == 422 and body["errors"][0]["path"] == "$.first"
        assert "is not on call for the whole of" in body["errors"][0]["message"]
        status, body = await api.call(
            "POST", f"{SCHEDULE}/swaps", RESPONDER, json={**SWAP, "second": {**SWAP["second"], "user": "x@nowhere"}}
        )
        assert status == 422 and [e["path"] for e in body["errors"]] == ["$.second.user"]
        same = {**SWAP, "second": {**SWAP["second"], "user": ENG1}}
        status, body = await api.call("POST", f"{SCHEDULE}/swaps", RESPONDER, json=same)
        assert status == 422 and "$.second.user" in [e["path"] for e in body["errors"]]


async def test_an_override_covers_a_shift_from_now_and_is_listed_after_the_configs():
    async with running(CONFIG) as api:
        made = await api.ok(
            "POST",
            f"{SCHEDULE}/overrides",
            RESPONDER,
            json={"user": ENG3, "end": f"2026-03-02T21:00:00{NY}", "note": "cover me tonight", "by": ENG1},
        )
        assert (made["start"], made["created_by"], made["note"], made["layer"]) == (
            "2026-03-02T14:00:00+00:00",
            ENG1,
            "cover me tonight",
            None,
        )
        now = await api.ok("GET", f"{SCHEDULE}/oncall", READER)
        assert now["oncall"] == [
            {"user": ENG3, "layer": "override", "shift_start": "2026-03-02T09:00:00-05:00",
             "shift_end": "2026-03-02T21:00:00-05:00"},
        ]  # fmt: skip
        listed = await api.ok("GET", f"{SCHEDULE}/overrides", READER)
        assert [(o["source"], o["id"], o["user"]) for o in listed["overrides"]] == [("api", made["id"], ENG3)]
        shifts = await api.ok("GET", f"{SCHEDULE}/shifts?start=2026-03-02T09:00:00&end=2026-03-03T09:00:00", READER)
        assert [(s["user"], s["layer"], s["start"][11:16], s["end"][11:16]) for s in shifts["shifts"]] == [
            (ENG3, "override", "09:00", "21:00"),
            (ENG1, "Primary", "21:00", "09:00"),
        ]
        calendar = await api.ok("GET", f"{SCHEDULE}.ics?start=2026-03-02T09:00:00&end=2026-03-03T09:00:00", READER)
        assert f"SUMMARY:On call: {ENG3} (override)" in calendar
        raised = await api.raise_incident()
        assert api.paged(raised["incident"]["id"]) == [(0, ENG3)]


async def test_an_override_made_now_within_a_second_is_on_call_at_once():
    # Schedules count whole seconds; an override made at 14:00:00.5 is on call from 14:00:00, so "who is on call
    # now", asked in that same second, names it, as the level it pages does.
    async with running(CONFIG) as api:
        api.advance(seconds=0.5)
        made = await api.ok(
            "POST", f"{SCHEDULE}/overrides", RESPONDER, json={"user": ENG3, "end": f"2026-03-02T21:00:00{NY}"}
        )
        assert made["start"] == "2026-03-02T14:00:00.500000+00:00"
        now = await api.ok("GET", f"{SCHEDULE}/oncall", READER)
        assert (now["at"], oncall(now)) == ("2026-03-02T09:00:00-05:00", [ENG3])
        raised = await api.raise_incident()
        assert api.paged(raised["incident"]["id"]) == [(0, ENG3)]


async def test_the_subscribed_calendar_feeds_show_run_time_overrides():
    async with running(CONFIG) as api:
        await api.ok("POST", f"{SCHEDULE}/overrides", RESPONDER, json={"user": ENG2, "end": f"2026-03-02T21:00:00{NY}"})
        schedule_feed = (await api.ok("POST", "/v1/feeds/schedule/primary-oncall/token", ADMIN))["url"]
        person_feed = (await api.ok("POST", f"/v1/feeds/user/{ENG2}/token", ADMIN))["url"]
        status, calendar = await api.call("GET", schedule_feed, token=None)
        assert status == 200 and f"SUMMARY:On call: {ENG2} (override)" in calendar
        status, mine = await api.call("GET", person_feed, token=None)
        assert status == 200 and "SUMMARY:On call: Primary On-Call (override)" in mine


async def test_a_layer_override_and_the_gap_report_count_run_time_overrides():
    document = CONFIG.replace(
        "        rotation: {type: weekly, handoff_day: Monday, handoff_hour: 9}",
        "        rotation: {type: weekly, handoff_day: Monday, handoff_hour: 9}\n"
        "        restrictions: {days_of_week: [1, 2, 3, 4, 5], start_hour: 9, end_hour: 17}",
    )
    async with running(document) as api:
        gaps = await api.ok("GET", f"{SCHEDULE}/gaps?start=2026-03-02T09:00:00&end=2026-03-03T09:00:00", READER)
        assert [(g["start"][11:16], g["end"][11:16]) for g in gaps["gaps"]] == [("17:00", "09:00")]
        await api.ok(
            "POST",
            f"{SCHEDULE}/overrides",
            RESPONDER,
            json={"user": ENG2, "start": f"2026-03-02T17:00:00{NY}", "end": f"2026-03-02T23:00:00{NY}"},
        )
        gaps = await api.ok("GET", f"{SCHEDULE}/gaps?start=2026-03-02T09:00:00&end=2026-03-03T09:00:00", READER)
        assert [(g["start"][11:16], g["end"][11:16]) for g in gaps["gaps"]] == [("23:00", "09:00")]
        layer = await api.ok(
            "POST",
            f"{SCHEDULE}/overrides",
            RESPONDER,
            json={"user": ENG3, "layer": "Primary", "end": f"2026-03-02T12:00:00{NY}"},
        )
        assert layer["layer"] == "Primary"
        now = await api.ok("GET", f"{SCHEDULE}/oncall", READER)
        assert [(e["user"], e["layer"]) for e in now["oncall"]] == [(ENG3, "Primary")]


@pytest.mark.parametrize(
    ("body", "faults"),
    [
        ({"user": ENG3, "start": f"2026-03-03T09:00:00{NY}", "end": f"2026-03-03T08:00:00{NY}"}, ["$.end"]),
        ({"user": "stranger@example.com", "end": f"2026-03-03T08:00:00{NY}"}, ["$.user"]),
        ({"user": ENG3, "end": f"2026-03-03T08:00:00{NY}", "layer": "Nights"}, ["$.layer"]),
        ({"user": ENG3, "start": f"2026-03-01T09:00:00{NY}", "end": f"2026-03-03T08:00:00{NY}"}, ["$.start"]),
        ({"user": 7, "end": f"2026-03-03T08:00:00{NY}"}, ["$.user"]),
    ],
)
async def test_a_bad_override_is_a_422_naming_each_field_and_stores_nothing(body, faults):
    async with running(CONFIG) as api:
        status, answer = await api.call("POST", f"{SCHEDULE}/overrides", RESPONDER, json=body)
        assert status == 422 and [e["path"] for e in answer["errors"]] == faults, answer
        assert (await api.ok("GET", f"{SCHEDULE}/overrides", READER))["overrides"] == []


async def test_removing_deletes_a_future_override_ends_a_running_one_and_refuses_a_past_one():
    async with running(CONFIG) as api:

        def make(start: str, end: str):
            return api.ok("POST", f"{SCHEDULE}/overrides", RESPONDER, json={"user": ENG3, "start": start, "end": end})

        running_one = await make(f"2026-03-02T09:00:00{NY}", f"2026-03-02T12:00:00{NY}")
        future = await make(f"2026-03-05T09:00:00{NY}", f"2026-03-05T12:00:00{NY}")
        ending = await make(f"2026-03-02T09:00:00{NY}", f"2026-03-02T10:00:00{NY}")
        api.advance(minutes=30)
        removed = await api.ok("DELETE", f"{SCHEDULE}/overrides/{future['id']}", RESPONDER)
        assert removed["deleted"] is True
        cut = await api.ok("DELETE", f"{SCHEDULE}/overrides/{running_one['id']}", RESPONDER)
        assert (cut["deleted"], cut["override"]["end"]) == (False, "2026-03-02T14:30:00+00:00")
        api.advance(hours=1)
        status, body = await api.call("DELETE", f"{SCHEDULE}/overrides/{ending['id']}", RESPONDER)
        assert status == 409 and "past on-call cannot be changed" in body["error"]
        status, body = await api.call("DELETE", f"{SCHEDULE}/overrides/{future['id']}", RESPONDER)
        assert status == 404
        past = await api.ok("GET", f"{SCHEDULE}/overrides?start=2026-03-02T09:00:00", READER)
        assert [(o["id"], o["end"]) for o in past["overrides"]] == [
            (running_one["id"], "2026-03-02T14:30:00+00:00"),
            (ending["id"], "2026-03-02T10:00:00-05:00"),
        ]


async def test_overrides_need_the_respond_scope_to_change():
    async with running(CONFIG) as api:
        status, _ = await api.call(
            "POST", f"{SCHEDULE}/overrides", READER, json={"user": ENG3, "end": f"2026-03-03T08:00:00{NY}"}
        )
        assert status == 403


SUN = CONFIG.replace("    timezone: America/New_York\n", "    timezone: UTC\n").replace(
    """    layers:
      - name: Primary
        users: [engineer1@example.com, engineer2@example.com]
        start: "2026-01-05T09:00:00"
        rotation: {type: weekly, handoff_day: Monday, handoff_hour: 9}""",
    """    layers:
      - name: Sun
        start: "2026-03-02T00:00:00"
        rotation:
          type: follow_the_sun
          regions:
            - {name: apac, handoff_hour: 22, users: [kenji@example.com, mei@example.com]}
            - {name: emea, handoff_hour: 6, users: [ana@example.com, ben@example.com]}
            - {name: amer, handoff_hour: 14, users: [cal@example.com, dee@example.com]}""",
)


async def test_the_people_a_rotation_chooses_from_are_people_the_config_knows():
    # follow_the_sun keeps its people in its regions (its layer lists no users): they can cover a shift, swap one,
    # be reassigned an incident and subscribe to their own calendar feed, as a layer's users can.
    assert "follow_the_sun" in SUN and "timezone: UTC" in SUN
    async with running(SUN) as api:
        sun = f"{SCHEDULE}/overrides"
        made = await api.ok(
            "POST",
            sun,
            RESPONDER,
            json={"user": "mei@example.com", "start": "2026-03-03T06:00:00Z", "end": "2026-03-03T14:00:00Z"},
        )
        assert made["user"] == "mei@example.com"
        assert oncall(await api.ok("GET", f"{SCHEDULE}/oncall?at=2026-03-03T09:00:00", READER)) == ["mei@example.com"]
        swap = {
            "first": {"user": "ana@example.com", "start": "2026-03-04T06:00:00Z", "end": "2026-03-04T14:00:00Z"},
            "second": {"user": "cal@example.com", "start": "2026-03-04T14:00:00Z", "end": "2026-03-04T22:00:00Z"},
        }
        assert len((await api.ok("POST", f"{SCHEDULE}/swaps", RESPONDER, json=swap))["overrides"]) == 2
        incident = (await api.raise_incident())["incident"]["id"]
        reassigned = await api.ok(
            "POST", f"/v1/incidents/{incident}/reassign", RESPONDER, json={"user": "dee@example.com"}
        )
        assert reassigned["incident"]["assignees"] == ["dee@example.com"]
        assert (await api.ok("POST", "/v1/feeds/user/kenji@example.com/token", ADMIN))[
            "feed"
        ] == "user:kenji@example.com"
        status, body = await api.call(
            "POST", f"{SCHEDULE}/overrides", RESPONDER, json={"user": "zed@example.com", "end": "2026-03-03T14:00:00Z"}
        )
        assert status == 422 and body["errors"][0]["path"] == "$.user"
