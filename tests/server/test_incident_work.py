"""Working an incident through HTTP on a real server: notes, reassigning to a person or a policy (the escalation
restarts there, recorded), taking an acknowledgement back, the list's filters and cursor, and the timeline that
merges journal, deliveries and notes in time order."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from support.api import Api, running
from support.server import CONFIG, READER, RESPONDER

ENG1, LEAD = "engineer1@example.com", "team-lead@example.com"
TEAM = [(2, "eng1@example.com"), (2, "eng2@example.com")]


def config(**changes: object) -> dict:
    document = yaml.safe_load(CONFIG)
    document["policies"].append(
        {
            "id": "database",
            "severity_filter": ["P4"],
            "levels": [{"targets": [{"type": "user", "email": "dba@example.com"}]}],
        }
    )
    document["users"] = {"dba@example.com": {}}
    document.update(changes)
    return document


async def journal(api: Api, incident_id: str) -> list[tuple[str, str | None]]:
    timeline = await api.ok("GET", f"/v1/incidents/{incident_id}/timeline", READER)
    return [(e["kind"], e["escalation_id"]) for e in timeline["entries"] if e["source"] == "journal"]


async def test_notes_are_kept_with_the_incident_and_refused_when_empty():
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        api.advance(minutes=1)
        note = await api.ok(
            "POST", f"/v1/incidents/{incident_id}/notes", RESPONDER, json={"text": "rolling back the deploy"}
        )
        assert (note["by"], note["at"], note["text"]) == ("pager-bot", "2026-03-02T14:01:00+00:00", note["text"])
        await api.ok("POST", f"/v1/incidents/{incident_id}/notes", json={"text": "fixed", "by": ENG1})
        notes = await api.ok("GET", f"/v1/incidents/{incident_id}/notes", READER)
        assert [(n["by"], n["text"]) for n in notes["notes"]] == [
            ("pager-bot", "rolling back the deploy"),
            (ENG1, "fixed"),
        ]
        status, body = await api.call("POST", f"/v1/incidents/{incident_id}/notes", json={"text": ""})
        assert status == 422 and body["errors"][0]["path"] == "$.text"
        status, _ = await api.call("POST", "/v1/incidents/nope/notes", json={"text": "hello"})
        assert status == 404


async def test_reassigning_to_a_person_restarts_the_escalation_on_them_and_records_it():
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        api.advance(minutes=2)
        detail = await api.ok(
            "POST", f"/v1/incidents/{incident_id}/reassign", RESPONDER, json={"user": "dba@example.com"}
        )
        assert detail["incident"]["assignees"] == ["dba@example.com"]
        escalation = detail["escalation"]
        assert (escalation["escalation_id"], escalation["status"]) == (f"{incident_id}#2", "active")
        assert escalation["policy"]["id"] == "reassigned:dba@example.com"
        assert api.paged(incident_id) == [(0, "dba@example.com")]  # paged now
        api.advance(minutes=30)  # the old policy's level 1 (5m) and 2 (15m) never fire; its repeat (20m) does
        assert api.paged(incident_id) == [(0, "dba@example.com"), (0, "dba@example.com")]
        assert await journal(api, incident_id) == [
            ("started", f"{incident_id}#1"),
            ("level_fired", f"{incident_id}#1"),
            ("reassigned", f"{incident_id}#1"),  # it ends cancelled
            ("started", f"{incident_id}#2"),
            ("level_fired", f"{incident_id}#2"),
            ("level_fired", f"{incident_id}#2"),  # the repeat, 20 minutes on
            ("completed", f"{incident_id}#2"),
        ]
        assert (await api.ok("GET", f"/v1/escalations/{incident_id}", READER))["status"] == "completed"
        timeline = await api.ok("GET", f"/v1/incidents/{incident_id}/timeline", READER)
        started = [e for e in timeline["entries"] if e["kind"] == "started"][1]
        assert started["detail"] == (
            f"policy reassigned:dba@example.com; reassigned from {incident_id}#1 to person dba@example.com by pager-bot"
        )


async def test_reassigning_to_a_policy_starts_it_from_its_first_level():
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        await api.ok("POST", f"/v1/incidents/{incident_id}/acknowledge", RESPONDER)
        detail = await api.ok("POST", f"/v1/incidents/{incident_id}/reassign", json={"policy": "database"})
        # its one level fired at once, and it has no repeat: nothing is left to fire
        assert (detail["escalation"]["policy"]["id"], detail["escalation"]["status"]) == ("database", "completed")
        assert detail["incident"]["assignees"] == []
        assert api.paged(incident_id) == [(0, "dba@example.com")]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"user": "stranger@example.com"}, "$.user"),
        ({"policy": "nope"}, "$.policy"),
        ({}, "$.user"),
        ({"user": ENG1, "policy": "database"}, "$.user"),
    ],
)
async def test_a_reassignment_to_no_one_known_is_a_422_naming_the_field(body, path):
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        status, answer = await api.call("POST", f"/v1/incidents/{incident_id}/reassign", json=body)
        assert status == 422 and answer["errors"][0]["path"] == path, answer
        assert api.paged(incident_id) == [(0, ENG1)]  # nothing changed


async def test_a_resolved_incident_cannot_be_reassigned():
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        await api.ok("POST", f"/v1/incidents/{incident_id}/resolve")
        status, body = await api.call("POST", f"/v1/incidents/{incident_id}/reassign", json={"user": ENG1})
        assert status == 409 and "Resolved" in body["error"]


async def test_unacknowledging_goes_back_to_the_next_level_at_its_time_or_now_if_it_passed():
    async with running(config()) as api:
        early = (await api.raise_incident())["incident"]["id"]
        late = (await api.raise_incident(title="Disk full"))["incident"]["id"]
        api.advance(minutes=1)
        for incident_id in (early, late):
            await api.ok("POST", f"/v1/incidents/{incident_id}/acknowledge", json={"by": ENG1})
        api.advance(minutes=1)
        detail = await api.ok("POST", f"/v1/incidents/{early}/unacknowledge", RESPONDER)
        assert (detail["escalation"]["status"], detail["escalation"]["acknowledged_by"]) == ("active", None)
        assert detail["escalation"]["next_due_at"] == "2026-03-02T14:05:00+00:00"  # level 1 at its own time
        api.advance(minutes=5)  # 14:07: level 1 of the early one fired at 14:05
        assert api.paged(early) == [(0, ENG1), (1, LEAD)]
        assert api.paged(late) == [(0, ENG1)]  # acknowledged: nothing since
        detail = await api.ok("POST", f"/v1/incidents/{late}/unacknowledge", RESPONDER)
        assert api.paged(late) == [(0, ENG1), (1, LEAD)]  # level 1 was due at 14:05: it fires now
        assert detail["escalation"]["next_due_at"] == "2026-03-02T14:17:00+00:00"  # level 2: 10 minutes on
        timeline = await api.ok("GET", f"/v1/incidents/{late}/timeline")
        entry = next(e for e in timeline["entries"] if e["kind"] == "unacknowledged")
        assert (entry["by"], entry["at"]) == ("pager-bot", "2026-03-02T14:07:00+00:00")
        assert "level 1 was due, so it fires now" in entry["detail"]
        status, body = await api.call("POST", f"/v1/incidents/{late}/unacknowledge")
        assert status == 409 and "only an acknowledged escalation" in body["error"]


async def test_unacknowledging_with_no_level_left_pages_the_acknowledged_level_again():
    document = config()
    policy = document["policies"][0]
    policy["levels"] = policy["levels"][:2]
    policy["levels"][1]["stop_on_ack"] = False  # fires though acknowledged; then nothing is left
    policy.pop("repeat")
    async with running(document) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        await api.ok("POST", f"/v1/incidents/{incident_id}/acknowledge", json={"by": ENG1})
        api.advance(minutes=6)
        assert api.paged(incident_id) == [(0, ENG1), (1, LEAD)]
        detail = await api.ok("POST", f"/v1/incidents/{incident_id}/unacknowledge")
        assert (detail["escalation"]["round"], detail["escalation"]["status"]) == (1, "active")
        assert api.paged(incident_id) == [(0, ENG1), (1, LEAD), (0, ENG1)]


async def test_the_timeline_merges_versions_journal_deliveries_and_notes_in_time_order():
    async with running(config()) as api:
        incident_id = (await api.raise_incident())["incident"]["id"]
        await settle(api)
        api.advance(minutes=1)
        await api.ok("POST", f"/v1/incidents/{incident_id}/notes", json={"text": "looking", "by": ENG1})
        api.advance(minutes=1)
        await api.ok("POST", f"/v1/incidents/{incident_id}/acknowledge", json={"by": ENG1})
        api.advance(minutes=1)
        await api.ok("POST", f"/v1/incidents/{incident_id}/resolve")
        timeline = await api.ok("GET", f"/v1/incidents/{incident_id}/timeline", READER)
        shown = [(e["at"][11:16], e["source"], e["kind"]) for e in timeline["entries"]]
        assert shown == [
            ("14:00", "incident", "raised"),
            ("14:00", "journal", "started"),
            ("14:00", "journal", "level_fired"),
            ("14:00", "delivery", "delivered"),
            ("14:01", "note", "note"),
            ("14:02", "journal", "acknowledged"),
            ("14:03", "journal", "resolved"),
            ("14:03", "incident", "state_changed"),  # one instant: the escalations' entries, then the incident's
        ]
        delivered = timeline["entries"][3]
        assert (delivered["recipient"], delivered["channel"], delivered["level"]) == (ENG1, "log", 0)
        status, _ = await api.call("GET", "/v1/incidents/nope/timeline", READER)
        assert status == 404


async def settle(api: Api) -> None:
    outbox = api.service.engine.outbox
    while api.server.call(lambda: outbox.queued() + outbox.in_flight()):
        await asyncio.sleep(0.01)


# --- the list ----------------------------------------------------------------------------------------------


async def test_the_list_filters_by_status_severity_policy_label_and_since():
    async with running(config()) as api:
        raised = {}
        for name, fields in (
            ("web", {"severity": "P1", "labels": {"team": "web"}}),
            ("db", {"severity": "P4", "labels": {"team": "db", "env": "prod"}}),
            ("db-staging", {"severity": "P4", "labels": {"team": "db", "env": "staging"}}),
            ("quiet", {"severity": "P3"}),
        ):
            raised[name] = (await api.raise_incident(title=name, **fields))["incident"]["id"]
            api.advance(minutes=10)
        await api.ok("POST", f"/v1/incidents/{raised['web']}/resolve")

        async def titles(query: str) -> list[str]:
            page = await api.ok("GET", f"/v1/incidents?{query}", READER)
            return [incident["title"] for incident in page["incidents"]]

        assert await titles("status=Resolved") == ["web"]
        assert await titles("status=Detected") == ["quiet", "db-staging", "db"]
        assert await titles("status=Resolved,Detected&limit=2") == ["quiet", "db-staging"]
        assert await titles("severity=P4") == ["db-staging", "db"]
        assert await titles("severity=P1,P3") == ["quiet", "web"]
        assert await titles("severity=P1&severity=P3") == ["quiet", "web"]
        assert await titles("policy=database") == ["db-staging", "db"]
        assert await titles("policy=standard-p1") == ["web"]
        assert await titles("label=team=db&label=env=prod") == ["db"]
        assert await titles("since=2026-03-02T14:15:00Z") == ["quiet", "db-staging"]
        assert await titles("since=2026-03-02T09:15:00-05:00&severity=P4&open=true") == ["db-staging"]


async def test_the_list_pages_with_a_cursor_that_new_incidents_do_not_shift():
    async with running(config()) as api:
        for number in range(5):
            await api.raise_incident(title=f"i{number}", severity="P4")
        first = await api.ok("GET", "/v1/incidents?severity=P4&limit=2", READER)
        assert [i["title"] for i in first["incidents"]] == ["i4", "i3"] and first["next_offset"] == 2
        skipped = await api.ok("GET", "/v1/incidents?severity=P4&limit=2&offset=2", READER)
        assert [i["title"] for i in skipped["incidents"]] == ["i2", "i1"]
        await api.raise_incident(title="newer", severity="P4")
        second = await api.ok("GET", f"/v1/incidents?severity=P4&limit=2&cursor={first['next_cursor']}", READER)
        assert [i["title"] for i in second["incidents"]] == ["i2", "i1"]
        last = await api.ok("GET", f"/v1/incidents?severity=P4&limit=2&cursor={second['next_cursor']}", READER)
        assert [i["title"] for i in last["incidents"]] == ["i0"] and last["next_cursor"] is None
        plain = await api.ok("GET", "/v1/incidents?limit=3", READER)
        assert [i["title"] for i in plain["incidents"]] == ["newer", "i4", "i3"] and plain["next_offset"] == 3
        rest = await api.ok("GET", f"/v1/incidents?limit=3&cursor={plain['next_cursor']}", READER)
        assert [i["title"] for i in rest["incidents"]] == ["i2", "i1", "i0"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("state=Resolved", "state"),
        ("status=Sleeping", "status"),
        ("severity=P9", "severity"),
        ("label=team", "label"),
        ("since=yesterday", "since"),
        ("cursor=bm9wZQ", "cursor"),
        ("status=detected", "status"),
        ("limit=5&limit=6", "limit"),
    ],
)
async def test_an_unknown_or_wrong_list_parameter_is_a_422_naming_it(query, name):
    async with running(config()) as api:
        status, body = await api.call("GET", f"/v1/incidents?{query}", READER)
        assert status == 422 and [e["path"] for e in body["errors"]] == [name], body
        assert body["errors"][0]["location"] == "query"
