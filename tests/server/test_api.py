"""The HTTP API against a real server on 127.0.0.1: auth, bad input, unknown ids, conflicts, rate limits, and
answers that match the CLI's for the same config."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.server import ADMIN, CONFIG, READER, RESPONDER, START, ServerThread, bearer, load

import tocsin
from tocsin.server import ServerError, create_app, memory_storage

P1 = {"title": "High CPU", "severity": "P1", "source": "monitoring"}


class Api:
    """A running server and a client session with helpers that return ``(status, json)``."""

    def __init__(self, server: ServerThread, http: aiohttp.ClientSession, clock: tocsin.ManualClock) -> None:
        self.server = server
        self.http = http
        self.clock = clock

    async def call(self, method: str, path: str, token: str | None = ADMIN, **options: Any) -> tuple[int, Any]:
        headers = {**(bearer(token) if token else {}), **options.pop("headers", {})}
        async with self.http.request(method, path, headers=headers, **options) as answer:
            text = await answer.text()
            self.last_headers = answer.headers
            is_json = answer.content_type == "application/json"
            return answer.status, json.loads(text) if is_json else text

    async def raise_incident(self, **fields: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/v1/incidents", json={**P1, **fields})
        assert status in (200, 201), body
        return body


async def serve(document: str | dict[str, Any], **options: Any) -> AsyncIterator[Api]:
    plugins = tocsin.load_plugins()
    clock = tocsin.ManualClock(START)
    app = create_app(load(document, plugins), plugins, storage=memory_storage(), clock=clock, **options)
    with ServerThread(app) as server:
        async with aiohttp.ClientSession(server.url) as http:
            yield Api(server, http, clock)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for running in serve(CONFIG):
        yield running


# --- authentication -------------------------------------------------------------------------------------


async def test_v1_needs_a_known_bearer_token(api):
    status, body = await api.call("GET", "/v1/incidents", token=None)
    assert status == 401 and "Authorization" in body["error"]
    assert api.last_headers["WWW-Authenticate"].startswith("Bearer")
    assert (await api.call("GET", "/v1/incidents", token="not-a-configured-token"))[0] == 401
    assert (await api.call("GET", "/v1/incidents", headers={"Authorization": f"Basic {READER}"}, token=None))[0] == 401
    assert (await api.call("GET", "/v1/incidents", token=READER))[0] == 200


async def test_scopes_nest_read_respond_admin(api):
    status, body = await api.call("POST", "/v1/incidents", token=READER, json=P1)
    assert status == 403 and "scope read" in body["error"] and "respond" in body["error"]
    incident_id = (await api.raise_incident())["incident"]["id"]
    assert (await api.call("GET", f"/v1/incidents/{incident_id}", token=RESPONDER))[0] == 200
    assert (await api.call("POST", f"/v1/incidents/{incident_id}/cancel", token=RESPONDER))[0] == 403
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/cancel", token=ADMIN)
    assert status == 200 and body["escalation"]["status"] == "cancelled"


async def test_health_metrics_and_the_openapi_document_are_open(api):
    status, health = await api.call("GET", "/health", token=None)
    assert status == 200 and health["status"] == "ok" and health["storage"] == "memory"
    assert (await api.call("GET", "/metrics", token=None))[0] == 200
    status, document = await api.call("GET", "/openapi.json", token=None)
    assert status == 200 and document["openapi"].startswith("3.1")


async def test_auth_none_opens_the_api_and_the_acting_name_comes_from_the_body():
    document = yaml.safe_load(CONFIG)
    document["server"] = {"auth": "none"}
    async for api in serve(document):
        incident_id = (await api.raise_incident())["incident"]["id"]
        status, body = await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge", token=None, json={"by": "me"})
        assert status == 200 and body["escalation"]["acknowledged_by"] == "me"


async def test_the_responders_token_name_is_who_acknowledged(api):
    incident_id = (await api.raise_incident())["incident"]["id"]
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge", token=RESPONDER)
    assert status == 200 and body["escalation"]["acknowledged_by"] == "pager-bot"


def test_a_server_without_tokens_refuses_to_start_unless_auth_none():
    plugins = tocsin.load_plugins()
    document = yaml.safe_load(CONFIG)
    document["server"] = {}
    with pytest.raises(ServerError, match=r"no API tokens are configured.*auth: none"):
        create_app(load(document, plugins), plugins, storage=memory_storage())


def test_a_token_from_an_unset_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("TOCSIN_TEST_TOKEN", raising=False)
    plugins = tocsin.load_plugins()
    document = yaml.safe_load(CONFIG)
    document["server"] = {"tokens": [{"name": "bot", "token_env": "TOCSIN_TEST_TOKEN", "scopes": ["read"]}]}
    with pytest.raises(ServerError, match="token 'bot': the environment variable TOCSIN_TEST_TOKEN is not set"):
        create_app(load(document, plugins), plugins, storage=memory_storage())


# --- bad input: nothing is written ------------------------------------------------------------------------


async def test_malformed_json_is_a_400_with_the_position(api):
    status, body = await api.call("POST", "/v1/incidents", data=b'{"title": "x",', headers=_json_type())
    assert status == 400 and body["error"].startswith("malformed JSON: line 1 column")
    status, body = await api.call("POST", "/v1/incidents", data=b'{"title": NaN}', headers=_json_type())
    assert status == 400 and "NaN" in body["error"]
    assert (await api.call("GET", "/v1/incidents"))[1]["incidents"] == []


async def test_schema_errors_are_a_422_listing_every_path(api):
    status, body = await api.call("POST", "/v1/incidents", json={"title": 7, "severity": "P9", "colour": "red"})
    assert status == 422
    faults = {(e["location"], e["path"]): e["message"] for e in body["errors"]}
    assert faults[("body", "$.title")] == "expected a string, got 7"
    assert faults[("body", "$.severity")].startswith("expected one of P0, P1, P2, P3, P4")
    assert "colour" in faults[("body", "$")]
    status, body = await api.call("POST", "/v1/incidents", json=["not", "an", "object"])
    assert status == 422 and body["errors"][0]["path"] == "$"
    status, body = await api.call("POST", "/v1/incidents", json={**P1, "created_at": "2026-03-02T09:00:00"})
    assert status == 422 and body["errors"][0]["path"] == "$.created_at"
    status, body = await api.call("POST", "/v1/incidents", json={**P1, "id": "a/b"})
    assert status == 422 and body["errors"][0]["path"] == "$.id"
    assert (await api.call("GET", "/v1/incidents"))[1]["incidents"] == []


async def test_bodies_over_the_limit_are_a_413_declared_or_streamed(api):
    big = {**P1, "description": "x" * 5000}  # max_body_bytes is 4096 in the test config
    status, body = await api.call("POST", "/v1/incidents", json=big)
    assert status == 413 and "4096" in body["error"]

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    status, body = await api.call("POST", "/v1/incidents", data=chunks(), headers=_json_type())
    assert status == 413
    assert (await api.call("GET", "/v1/incidents"))[1]["incidents"] == []


async def test_bad_query_values_are_a_422_naming_the_parameter(api):
    status, body = await api.call("GET", "/v1/incidents?limit=0&open=maybe")
    assert status == 422
    assert {(e["location"], e["path"]) for e in body["errors"]} == {("query", "limit"), ("query", "open")}
    status, body = await api.call("GET", "/v1/schedules/primary-oncall/oncall?at=tomorrow")
    assert status == 422 and body["errors"][0]["path"] == "at"
    status, body = await api.call(
        "GET", "/v1/schedules/primary-oncall/shifts?start=2026-03-09T00:00&end=2026-03-02T00:00"
    )
    assert status == 422 and body["errors"][0]["path"] == "end"
    status, body = await api.call("GET", "/v1/schedules/primary-oncall.ics?start=2026-01-01T00:00&end=2027-03-01T00:00")
    assert status == 422 and "366 days" in body["errors"][0]["message"]


# --- unknown ids and conflicts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/incidents/nope"),
        ("POST", "/v1/incidents/nope/acknowledge"),
        ("POST", "/v1/incidents/nope/resolve"),
        ("POST", "/v1/incidents/nope/cancel"),
        ("POST", "/v1/incidents/nope/escalate"),
        ("GET", "/v1/escalations/nope"),
    ],
)
async def test_an_unknown_incident_is_a_404_naming_it(api, method, path):
    status, body = await api.call(method, path)
    assert status == 404 and body["error"] == "no incident 'nope'"


async def test_unknown_schedules_policies_and_routes_are_404s(api):
    status, body = await api.call("GET", "/v1/schedules/nope/oncall")
    assert status == 404 and body["error"] == "no schedule 'nope'; known: primary-oncall"
    status, body = await api.call("GET", "/v1/policies/nope")
    assert status == 404 and "known: standard-p1" in body["error"]
    status, body = await api.call("GET", "/v1/nothing-here")
    assert status == 404 and "/v1/nothing-here" in body["error"]
    status, body = await api.call("DELETE", "/v1/incidents")
    assert status == 405 and "DELETE" in body["error"]


async def test_invalid_transitions_are_409s(api):
    incident_id = (await api.raise_incident())["incident"]["id"]
    assert (await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge"))[0] == 200
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge")
    assert status == 409 and "already acknowledged" in body["error"]
    assert (await api.call("POST", f"/v1/incidents/{incident_id}/resolve"))[0] == 200
    assert (await api.call("POST", f"/v1/incidents/{incident_id}/resolve"))[0] == 200  # twice is harmless
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/cancel")
    assert status == 409 and "resolved" in body["error"]
    status, body = await api.call("POST", "/v1/incidents", json={**P1, "id": incident_id})
    assert status == 409 and "Resolved" in body["error"]


async def test_an_incident_without_a_policy_has_no_escalation_to_act_on(api):
    incident_id = (await api.raise_incident(severity="P3"))["incident"]["id"]
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge")
    assert status == 409 and "has no escalation" in body["error"]
    assert (await api.call("GET", f"/v1/escalations/{incident_id}"))[0] == 404
    status, body = await api.call("GET", f"/v1/incidents/{incident_id}")
    assert status == 200 and body["escalation"] is None


async def test_acknowledgements_are_rate_limited_per_incident(api):
    first = (await api.raise_incident())["incident"]["id"]
    other = (await api.raise_incident(title="Other"))["incident"]["id"]
    statuses = [(await api.call("POST", f"/v1/incidents/{first}/acknowledge"))[0] for _ in range(3)]
    assert statuses == [200, 409, 409]  # three per minute in the test config, answered or not
    status, _ = await api.call("POST", f"/v1/incidents/{first}/acknowledge")
    assert status == 429 and int(api.last_headers["Retry-After"]) == 60
    assert (await api.call("POST", f"/v1/incidents/{other}/acknowledge"))[0] == 200
    api.server.call(functools.partial(api.clock.advance, seconds=61))
    assert (await api.call("POST", f"/v1/incidents/{first}/acknowledge"))[0] == 409


# --- incidents ----------------------------------------------------------------------------------------


async def test_a_repeat_by_dedup_key_is_folded_into_the_open_incident(api):
    created = await api.raise_incident(dedup_key="cpu/web-1")
    status, repeat = await api.call("POST", "/v1/incidents", json={**P1, "dedup_key": "cpu/web-1"})
    assert status == 200 and repeat["duplicate"] is True and repeat["incident"]["id"] == created["incident"]["id"]
    status, detail = await api.call("GET", f"/v1/incidents/{created['incident']['id']}", token=READER)
    assert status == 200 and detail["duplicates"] == 1
    assert len((await api.call("GET", "/v1/incidents"))[1]["incidents"]) == 1


async def test_routing_actions_change_the_incident_before_it_is_stored(api):
    created = await api.raise_incident(incident_type="Security")
    assert created["matched_rules"] == ["Route Security Incidents"]
    assert created["incident"]["labels"] == {"team": "security"}
    assert created["incident"]["created_at"] == START.isoformat()  # the server's clock


async def test_incidents_are_listed_newest_first_in_pages(api):
    ids = [(await api.raise_incident(title=f"incident {n}"))["incident"]["id"] for n in range(5)]
    await api.call("POST", f"/v1/incidents/{ids[4]}/resolve")
    _, page = await api.call("GET", "/v1/incidents?limit=2", token=READER)
    assert [i["id"] for i in page["incidents"]] == [ids[4], ids[3]] and page["next_offset"] == 2
    _, page = await api.call("GET", "/v1/incidents?limit=2&offset=4", token=READER)
    assert [i["id"] for i in page["incidents"]] == [ids[0]] and page["next_offset"] is None
    _, page = await api.call("GET", "/v1/incidents?open=true", token=READER)
    assert [i["id"] for i in page["incidents"]] == ids[3::-1]


async def test_escalate_fires_the_next_level_now(api):
    incident_id = (await api.raise_incident())["incident"]["id"]
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/escalate", token=RESPONDER)
    assert status == 200 and body["escalation"]["current_level"] == 1
    recipients = [d["notification"]["recipient"]["address"] for d in body["escalation"]["deliveries"]]
    assert recipients == ["engineer1@example.com", "team-lead@example.com"]


async def test_monitor_lag_is_how_long_a_due_step_has_waited():
    async for api in serve(CONFIG, run_monitor=False):
        await api.raise_incident()
        api.server.call(functools.partial(api.clock.advance, minutes=10))  # level 1 was due at minute 5; no timer runs
        _, health = await api.call("GET", "/health", token=None)
        assert health["monitor_lag_seconds"] == 300.0 and health["open_escalations"] == 1
        _, metrics = await api.call("GET", "/metrics", token=None)
        assert "tocsin_monitor_lag_seconds 300.0" in metrics
        assert 'tocsin_incidents_received_total{result="created"} 1.0' in metrics
        assert 'tocsin_escalations{status="active"} 1.0' in metrics
        assert 'tocsin_http_requests_total{method="POST",route="/v1/incidents",status="201"} 1.0' in metrics


# --- the same answers as the CLI ------------------------------------------------------------------------


def cli_json(tmp_path: Path, *arguments: str) -> Any:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *[a.replace("CONFIG", str(config)) for a in arguments]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_oncall_and_shifts_answer_what_tocsin_oncall_prints(api, tmp_path):
    at = "2026-03-09T08:30:00"
    status, oncall = await api.call("GET", f"/v1/schedules/primary-oncall/oncall?at={at}", token=READER)
    assert status == 200
    assert oncall == cli_json(tmp_path, "oncall", "CONFIG", "primary-oncall", "--at", at, "--json")
    query = "start=2026-03-01T00:00:00&end=2026-03-20T00:00:00"
    status, shifts = await api.call("GET", f"/v1/schedules/primary-oncall/shifts?{query}", token=READER)
    printed = cli_json(
        tmp_path, "oncall", "CONFIG", "primary-oncall", "--shifts", "--start", "2026-03-01T00:00:00",
        "--end", "2026-03-20T00:00:00", "--json",
    )  # fmt: skip
    assert shifts["shifts"] == printed["shifts"] and len(shifts["shifts"]) == 4
    assert shifts["start"] == "2026-03-01T00:00:00-05:00" and shifts["end"] == "2026-03-20T00:00:00-04:00"


async def test_oncall_defaults_to_now_on_the_servers_clock(api):
    _, oncall = await api.call("GET", "/v1/schedules/primary-oncall/oncall", token=READER)
    assert oncall["at"] == "2026-03-02T09:00:00-05:00" and oncall["oncall"][0]["user"] == "engineer1@example.com"


async def test_the_calendar_feed_is_icalendar(api):
    status, feed = await api.call("GET", "/v1/schedules/primary-oncall.ics?end=2026-03-20T00:00", token=READER)
    assert status == 200 and api.last_headers["Content-Type"].startswith("text/calendar")
    assert feed.startswith("BEGIN:VCALENDAR") and feed.count("BEGIN:VEVENT") == 3
    assert "SUMMARY:On call: engineer1@example.com (Primary)" in feed


async def test_rule_evaluation_is_what_tocsin_route_prints(api, tmp_path):
    incident = {**P1, "id": "inc-9", "incident_type": "Security", "created_at": "2026-03-02T14:00:00+00:00"}
    (tmp_path / "incident.json").write_text(json.dumps(incident), encoding="utf-8")
    status, answer = await api.call("POST", "/v1/rules/evaluate", token=READER, json={"incident": incident})
    printed = cli_json(tmp_path, "route", "CONFIG", str(tmp_path / "incident.json"), "--json", "--explain")
    assert status == 200
    assert {k: answer[k] for k in printed} == printed
    assert (await api.call("GET", "/v1/incidents"))[1]["incidents"] == []  # a dry run stores nothing


async def test_policies_are_listed_as_configured(api):
    _, body = await api.call("GET", "/v1/policies", token=READER)
    (policy,) = body["policies"]
    assert policy["id"] == "standard-p1" and [lv["delay_minutes"] for lv in policy["levels"]] == [0, 5, 10]
    (target,) = policy["levels"][0]["targets"]
    assert (target["type"], target["schedule_id"]) == ("schedule", "primary-oncall")
    assert policy["repeat"] == {"max_repeats": 1, "interval_minutes": 20}


def _json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


async def test_a_snoozed_acknowledgement_pages_again_when_it_runs_out(api):
    incident_id = (await api.raise_incident())["incident"]["id"]
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/snooze", json={"minutes": 10})
    assert status == 409 and "only an acknowledged or exhausted (completed) escalation" in body["error"]
    await api.call("POST", f"/v1/incidents/{incident_id}/acknowledge", token=RESPONDER)
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/snooze", json={"minutes": 0})
    assert status == 422 and body["errors"][0]["path"] == "$.minutes"
    status, body = await api.call("POST", f"/v1/incidents/{incident_id}/snooze", token=RESPONDER, json={"minutes": 30})
    assert status == 200 and body["escalation"]["status"] == "acknowledged"
    api.server.advance(api.clock, minutes=30)
    _, state = await api.call("GET", f"/v1/escalations/{incident_id}", token=READER)
    assert state["status"] == "active"
    pages = [(d["notification"]["level"], d["notification"]["recipient"]["address"]) for d in state["deliveries"]]
    assert pages == [(0, "engineer1@example.com"), (0, "engineer1@example.com")]  # the acknowledged level again


# --- dead letters -----------------------------------------------------------------------------------------


async def test_dead_lettered_notifications_are_visible_in_the_api():
    document = yaml.safe_load(CONFIG)
    # engineer1 holds the primary shift at START; their webhook points at a private address, which the SSRF
    # policy refuses before any connection is made: a permanent failure, so the page is dead-lettered at once.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    contact = {"type": "webhook", "url": "http://10.0.0.1/hook", "secrets": [secret], "headers": {"X-Key": "hidden"}}
    document["users"] = {"engineer1@example.com": {"contacts": [contact]}}
    async for api in serve(document):
        incident_id = (await api.raise_incident())["incident"]["id"]
        for _ in range(200):  # the outbox works in the server's own loop; bounded wait for its answer
            status, body = await api.call("GET", "/v1/deliveries/dead", token=READER)
            if body["deliveries"]:
                break
            await asyncio.sleep(0.02)
        assert status == 200
        (dead,) = body["deliveries"]
        assert dead["status"] == "dead"
        assert dead["notification"]["incident_id"] == incident_id
        assert dead["notification"]["recipient"]["address"] == "engineer1@example.com"
        assert dead["notification"]["recipient"]["contact"] is None  # its secret and headers stay private
        assert secret not in json.dumps(body) and "hidden" not in json.dumps(body)
        assert "10.0.0.1" in dead["result"]["detail"]
        assert (await api.call("GET", "/v1/deliveries/dead?limit=0", token=READER))[0] == 422
        assert (await api.call("GET", "/v1/deliveries/dead", token=None))[0] == 401


# --- exhausted escalations ------------------------------------------------------------------------------

ONE_LEVEL = CONFIG.replace(
    "rules:",
    """  - id: single-p3
    severity_filter: [P3]
    levels:
      - {delay_minutes: 0, targets: [{type: user, email: oncall@example.com}]}
rules:""",
    1,
)


async def test_an_exhausted_escalation_is_shown_counted_and_can_still_be_acknowledged():
    async for api in serve(ONE_LEVEL, run_monitor=False):
        incident_id = (await api.raise_incident(severity="P3"))["incident"]["id"]
        _, body = await api.call("GET", f"/v1/escalations/{incident_id}", token=READER)
        assert (body["status"], body["exhausted"], body["open"]) == ("completed", True, True)
        assert body["events"][-1]["kind"] == "completed" and body["events"][-1]["detail"].startswith("exhausted:")
        _, metrics = await api.call("GET", "/metrics", token=None)
        assert "tocsin_escalations_exhausted_unanswered 1.0" in metrics
        status, body = await api.call(
            "POST", f"/v1/incidents/{incident_id}/acknowledge", token=RESPONDER, json={"by": "oncall@example.com"}
        )
        assert status == 200, body
        escalation = body["escalation"]
        assert (escalation["status"], escalation["acknowledged_by"], escalation["exhausted"]) == (
            "acknowledged",
            "oncall@example.com",
            False,
        )
        _, metrics = await api.call("GET", "/metrics", token=None)
        assert "tocsin_escalations_exhausted_unanswered 0.0" in metrics


async def test_an_exhausted_escalation_can_be_escalated_snoozed_and_resolved():
    async for api in serve(ONE_LEVEL, run_monitor=False):
        incident_id = (await api.raise_incident(severity="P3"))["incident"]["id"]
        status, body = await api.call("POST", f"/v1/incidents/{incident_id}/escalate", token=RESPONDER)
        assert status == 200 and body["escalation"]["pass_number"] == 1  # on_exhausted stay: starts over
        assert len(body["escalation"]["deliveries"]) == 2
        assert body["escalation"]["status"] == "completed"  # the one level fired again, unanswered
        status, body = await api.call(
            "POST", f"/v1/incidents/{incident_id}/snooze", token=RESPONDER, json={"minutes": 30}
        )
        assert status == 200 and body["escalation"]["status"] == "acknowledged"
        assert body["escalation"]["snoozed_until"] is not None
        status, body = await api.call("POST", f"/v1/incidents/{incident_id}/resolve", token=RESPONDER)
        assert status == 200 and (body["escalation"]["status"], body["escalation"]["open"]) == ("resolved", False)


# --- API truthfulness -----------------------------------------------------------------------------------


async def test_the_openapi_document_passes_the_openapi_spec_validator(api):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    _, document = await api.call("GET", "/openapi.json", token=None)
    assert [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()] == []


async def test_null_labels_get_a_readable_422(api):
    status, body = await api.call("POST", "/v1/incidents", json={**P1, "labels": None})
    assert status == 422
    assert [(e["path"], e["message"]) for e in body["errors"]] == [
        ("$.labels", "expected a mapping (a JSON object), got null")
    ]


async def test_read_endpoints_refuse_a_query_parameter_they_do_not_take(api):
    status, body = await api.call("GET", "/v1/schedules/primary-oncall/shifts?severity=P1", token=READER)
    assert status == 422
    assert [(e["location"], e["path"]) for e in body["errors"]] == [("query", "severity")]
    assert "unknown query parameter 'severity'; this endpoint takes: end, start" in body["errors"][0]["message"]
    assert (await api.call("GET", "/v1/policies?enabled=true", token=READER))[0] == 422
    known = "/v1/schedules/primary-oncall/shifts?start=2026-03-02T09:00:00"
    assert (await api.call("GET", known, token=READER))[0] == 200


async def test_gaps_lists_the_stretches_with_nobody_on_call(api):
    status, body = await api.call(
        "GET", "/v1/schedules/primary-oncall/gaps?start=2026-03-02T09:00:00&end=2026-03-03T09:00:00", token=READER
    )
    assert status == 200
    assert body == {
        "schedule": "primary-oncall",
        "start": "2026-03-02T09:00:00-05:00",
        "end": "2026-03-03T09:00:00-05:00",
        "gaps": [],
    }
    status, body = await api.call("GET", "/v1/schedules/nope/gaps", token=READER)
    assert status == 404


async def test_patch_changes_an_incident_reroutes_it_and_journals_it(api):
    created = await api.raise_incident()
    incident_id = created["incident"]["id"]
    status, body = await api.call(
        "PATCH",
        f"/v1/incidents/{incident_id}",
        token=RESPONDER,
        json={"title": "Intrusion", "severity": "P0", "labels": {"env": "prod"}},
    )
    assert status == 200, body
    assert body["changed"] == ["title", "severity", "labels"]
    assert (body["incident"]["title"], body["incident"]["severity"], body["incident"]["priority_score"]) == (
        "Intrusion",
        "P0",
        0,
    )
    assert body["incident"]["labels"] == {"env": "prod"}
    (event,) = [e for e in body["escalation"]["events"] if e["kind"] == "incident_updated"]
    assert event["by"] == "pager-bot" and event["detail"].startswith("title, severity, labels changed")
    status, body = await api.call("PATCH", f"/v1/incidents/{incident_id}", token=RESPONDER, json={})
    assert status == 200 and body["changed"] == []  # an empty patch changes nothing
    status, body = await api.call("PATCH", f"/v1/incidents/{incident_id}", token=RESPONDER, json={"state": "Resolved"})
    assert status == 422 and body["errors"][0]["message"].startswith("unknown field")
    await api.call("POST", f"/v1/incidents/{incident_id}/resolve", token=RESPONDER)
    status, body = await api.call("PATCH", f"/v1/incidents/{incident_id}", token=RESPONDER, json={"title": "x"})
    assert status == 409


async def test_patch_reruns_the_rules_that_depend_on_the_changed_fields(api):
    incident_id = (await api.raise_incident(incident_type="Security", severity="P2"))["incident"]["id"]
    status, body = await api.call("PATCH", f"/v1/incidents/{incident_id}", token=RESPONDER, json={"severity": "P1"})
    assert status == 200, body
    assert body["matched_rules"] == ["Route Security Incidents"]
    assert body["incident"]["labels"]["team"] == "security"
    assert {(a["action"], a["status"]) for a in body["actions"]} >= {("add_labels", "applied")}


# --- calendar feeds -------------------------------------------------------------------------------------


async def test_a_calendar_feed_url_works_without_a_header_until_its_token_is_rotated(api):
    status, made = await api.call("POST", "/v1/feeds/schedule/primary-oncall/token", token=ADMIN)
    assert status == 200 and made["feed"] == "schedule:primary-oncall"
    assert made["url"] == f"/v1/feeds/schedule/primary-oncall.ics?token={made['token']}"
    assert len(made["token"]) >= 40
    status, feed = await api.call("GET", made["url"], token=None)
    assert status == 200 and api.last_headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in feed and "SUMMARY:On call: engineer" in feed
    status, again = await api.call("POST", "/v1/feeds/schedule/primary-oncall/token", token=ADMIN)
    assert again["token"] != made["token"]
    assert (await api.call("GET", made["url"], token=None))[0] == 404  # the old URL stops working
    assert (await api.call("GET", again["url"], token=None))[0] == 200
    assert (await api.call("GET", "/v1/feeds/schedule/primary-oncall.ics?token=guess", token=None))[0] == 404
    assert (await api.call("GET", "/v1/feeds/schedule/primary-oncall.ics", token=None))[0] == 404


async def test_a_persons_feed_covers_their_shifts_and_only_an_admin_makes_tokens(api):
    assert (await api.call("POST", "/v1/feeds/user/engineer1@example.com/token", token=RESPONDER))[0] == 403
    assert (await api.call("POST", "/v1/feeds/user/nobody@example.com/token", token=ADMIN))[0] == 404
    assert (await api.call("POST", "/v1/feeds/team/platform/token", token=ADMIN))[0] == 404
    _, made = await api.call("POST", "/v1/feeds/user/engineer1@example.com/token", token=ADMIN)
    status, feed = await api.call("GET", made["url"], token=None)
    assert status == 200
    assert "SUMMARY:On call: Primary On-Call (Primary)" in feed
    assert "engineer2" not in feed
