"""Crash points for real: `tocsin serve` on a SQLite file is killed with SIGKILL at each step boundary of
raise / escalate (a level firing) / acknowledge / resolve — with the operation written but not committed, and
committed but nothing after it run — then restarted, and the client retries its request. Every page arrives
exactly once per (incident, level, recipient), as a receiver deduplicating by `webhook-id` sees it, and none
after the incident is resolved."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest
import yaml
from support.delivery_receiver import Receiver
from support.processes import SECRET, TOKEN, Service, distinct_pages, until

BOUNDARIES = [
    (when, event)
    for event in ("started", "escalated", "acknowledged", "resolved")
    for when in ("before-commit", "after-commit")
]


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def request(service: Service, method: str, path: str, body: dict | None = None) -> tuple[int, dict] | None:
    """The answer, or None when the connection broke (the process died under the request)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{service.url}{path}", json=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json()
    except (aiohttp.ClientError, ConnectionError):
        return None


@pytest.mark.parametrize(("when", "event"), BOUNDARIES, ids=[f"{w}:{e}" for w, e in BOUNDARIES])
async def test_a_kill_at_a_step_boundary_then_a_retry_pages_each_level_exactly_once(receiver, tmp_path, when, event):
    urls = [receiver.script(f"/level{level}") for level in range(3)]
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"path": str(tmp_path / "tocsin.db")},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        # A page the kill caught mid-send is claimed again once its lease runs out: keep that short.
        "delivery": {"timeout_seconds": 2, "lease_seconds": 3, "base_seconds": 1, "cap_seconds": 2},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": delay, "targets": [{"type": "webhook", "url": url}]}
                    for delay, url in zip((0, 30, 30), urls, strict=True)
                ],
            }
        ],
    }
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    service = Service(path, tmp_path)
    service.env = {"TOCSIN_CRASH_AT": f"{when}:{event}"}
    kills = 0

    async def act(method: str, route: str, body: dict | None, done) -> tuple[int, dict]:
        """Send the request; when the server died under it, restart it (without the crash point) and retry
        unless the first attempt is seen to have taken effect — what a careful client does."""
        nonlocal kills
        answer = await request(service, method, route, body)
        if answer is not None:
            return answer
        kills += 1
        await service.process.wait()
        service.env = {}
        await service.start()
        state = await request(service, "GET", "/v1/escalations/inc-1")
        if state is not None and state[0] == 200 and done(state[1]):
            return state
        answer = await request(service, method, route, body)
        assert answer is not None, service.log()
        return answer

    try:
        await service.start()
        status, _ = await act(
            "POST", "/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"}, lambda s: False
        )
        assert status in (200, 201)  # 200: the retry folded into the incident the first attempt committed
        status, _ = await act(
            "POST", "/v1/incidents/inc-1/escalate", {"by": "oncall@example.com"}, lambda s: s["current_level"] >= 1
        )
        assert status == 200
        status, body = await act(
            "POST", "/v1/incidents/inc-1/acknowledge", {"by": "oncall@example.com"}, lambda s: s["status"] != "active"
        )
        assert status == 200 or (status == 409 and "already acknowledged" in body["error"]), body
        status, body = await act("POST", "/v1/incidents/inc-1/resolve", {"by": "oncall@example.com"}, lambda s: False)
        assert status == 200, body
        await until(lambda: receiver.on("/level0") and receiver.on("/level1"), "levels 0 and 1 paged", service)
        await asyncio.sleep(1.0)  # anything that should not go out has its chance to
        answer = await request(service, "GET", "/v1/escalations/inc-1")
        incident = await request(service, "GET", "/v1/incidents/inc-1")
    finally:
        await service.kill()
    assert kills == 1, f"the crash point {when}:{event} was never reached"
    assert answer is not None and answer[1]["status"] == "resolved"
    assert incident is not None and incident[1]["incident"]["state"] == "Resolved"
    triples = Counter(
        (page["incident"]["id"], page["level"], page["recipient"]["address"])
        for level in range(3)
        for page in distinct_pages(receiver, f"/level{level}").values()
    )
    assert triples == {("inc-1", 0, urls[0]): 1, ("inc-1", 1, urls[1]): 1}
