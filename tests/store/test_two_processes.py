"""Two `tocsin serve` processes on one SQLite file: acknowledge, resolve, escalate and cancel sent to the
instance that did not start an escalation act on it, and the same dedup key posted to both at once opens one
incident. Real processes, a real file, a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import yaml
from support.delivery_receiver import Receiver
from support.processes import SECRET, TOKEN, Service, distinct_pages, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def pair(receiver, tmp_path):
    """Instances a and b of `tocsin serve` on one database file."""
    level0, level1 = receiver.script("/level0"), receiver.script("/level1")
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"path": str(tmp_path / "tocsin.db")},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": 0, "targets": [{"type": "webhook", "url": level0}]},
                    {"delay_minutes": 30, "targets": [{"type": "webhook", "url": level1}]},
                ],
            }
        ],
    }
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    started = []
    for name in ("a", "b"):
        logs = tmp_path / name
        logs.mkdir()
        service = Service(path, logs)
        started.append(service)
        await service.start()
    yield started
    for service in started:
        await service.kill()


async def call(service: Service, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{service.url}{path}", json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


@pytest.mark.parametrize(
    ("verb", "status"),
    [("acknowledge", "acknowledged"), ("resolve", "resolved"), ("cancel", "cancelled"), ("escalate", "completed")],
)
async def test_an_action_sent_to_the_other_instance_acts_on_the_escalation(pair, receiver, verb, status):
    a, b = pair
    answer, created = await call(a, "POST", "/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"})
    assert answer == 201, created
    await until(lambda: len(receiver.on("/level0")) == 1, "level 0", a)
    answer, acted = await call(b, "POST", f"/v1/incidents/inc-1/{verb}", {"by": "oncall@example.com"})
    assert answer == 200, acted
    for service in (a, b):  # both instances answer with what the store holds
        answer, state = await call(service, "GET", "/v1/escalations/inc-1")
        assert (answer, state["status"]) == (200, status), state
    if verb == "escalate":
        await until(lambda: len(receiver.on("/level1")) >= 1, "level 1 escalated on b", b)
        assert state["current_level"] == 1
    await asyncio.sleep(1.0)  # give either instance the chance to page something it should not
    assert len(distinct_pages(receiver, "/level0")) == 1
    assert len(distinct_pages(receiver, "/level1")) == (1 if verb == "escalate" else 0)


async def test_the_same_dedup_key_posted_to_both_instances_at_once_opens_one_incident(pair):
    a, b = pair
    for round_number in range(8):
        body = {"title": "Disk full", "severity": "P1", "dedup_key": f"disk-{round_number}"}
        answers = await asyncio.gather(call(a, "POST", "/v1/incidents", body), call(b, "POST", "/v1/incidents", body))
        assert sorted(status for status, _ in answers) == [200, 201], answers
        assert len({created["incident"]["id"] for _, created in answers}) == 1  # the repeat folded into it
    answer, listed = await call(a, "GET", "/v1/incidents?open=true&limit=100")
    assert answer == 200
    assert len(listed["incidents"]) == 8
