"""`kill -9` for real: `tocsin serve` runs as a subprocess on a SQLite file and pages a webhook receiver on
127.0.0.1; the test kills it while a webhook is in flight and again between two levels, restarts it each time,
and checks on the receiver's side (deduplicating by `webhook-id`, as the Standard Webhooks spec asks receivers
to) that every expected page arrived exactly once and none went missing.

It runs in real time: levels are whole minutes apart, so the test takes a little over a minute. (A level that
fires less than a minute after its due time is not marked ``late``; the test checks its ``fired_at`` instead.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import yaml
from support.delivery_receiver import Reply
from support.processes import SECRET, TOKEN, Service, distinct_pages, until

LEVEL_GAP = 60.0  # seconds between level 0 and level 1 (delay_minutes: 1)


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    """Services started by the test, killed at the end whatever happened."""
    started: list[Service] = []
    yield started
    for service in started:
        await service.kill()


async def test_kill_9_while_a_webhook_is_in_flight_and_between_levels_loses_and_repeats_nothing(
    receiver, services, tmp_path
):
    level0 = receiver.script("/level0", Reply(hold=True))  # the first attempt never gets an answer
    level1 = receiver.script("/level1")
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"path": str(tmp_path / "tocsin.db")},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        "delivery": {"timeout_seconds": 2, "lease_seconds": 3, "base_seconds": 1, "cap_seconds": 2},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": 0, "targets": [{"type": "webhook", "url": level0}]},
                    {"delay_minutes": 1, "targets": [{"type": "webhook", "url": level1}]},
                ],
            }
        ],
    }
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    service = Service(path, tmp_path)
    services.append(service)
    loop = asyncio.get_running_loop()

    await service.start()
    created = await service.post("/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"})
    raised_at = loop.time()
    assert created["policy_id"] == "pager"
    await until(lambda: len(receiver.on("/level0")) == 1, "level 0's first attempt", service)
    await service.kill()  # 1: killed while the level-0 webhook is in flight (the receiver holds it open)

    await service.start()  # the claim's lease runs out, and level 0 is sent again under the same webhook-id
    await until(lambda: len(receiver.on("/level0")) == 2, "level 0 sent again after the restart", service)
    state = await _escalation_when(service, lambda s: s["deliveries"][0]["status"] == "sent")
    assert state["deliveries"][0]["attempts"] == 2
    await service.kill()  # 2: killed between level 0 and level 1

    remaining = LEVEL_GAP + 2 - (loop.time() - raised_at)
    await asyncio.sleep(max(remaining, 0))  # down while level 1 comes due
    assert receiver.on("/level1") == []
    await service.start()  # level 1 fires once, late
    await until(lambda: len(receiver.on("/level1")) == 1, "level 1 after the restart", service)
    state = await _escalation_when(service, lambda s: [d["status"] for d in s["deliveries"]] == ["sent", "sent"])
    await service.kill()  # 3: killed after everything was delivered

    await service.start()  # nothing is due and nothing delivered goes out again
    await asyncio.sleep(1.5)
    final = await service.get("/v1/escalations/inc-1")
    await service.kill()

    first, second = distinct_pages(receiver, "/level0"), distinct_pages(receiver, "/level1")
    assert len(first) == 1 and len(second) == 1  # exactly once each, as deduplicated by webhook-id
    ((_, page0),) = first.items()
    ((_, page1),) = second.items()
    assert (page0["level"], page0["incident"]["id"], page1["level"], page1["incident"]["id"]) == (
        0,
        "inc-1",
        1,
        "inc-1",
    )
    due0, due1 = datetime.fromisoformat(page0["due_at"]), datetime.fromisoformat(page1["due_at"])
    assert due1 - due0 == timedelta(minutes=1)  # the schedule kept its anchor through both restarts
    assert datetime.fromisoformat(page1["fired_at"]) > due1  # it came due while the server was down
    assert len(receiver.on("/level0")) == 2 and len(receiver.on("/level1")) == 1  # the in-flight one, resent once
    assert [d["status"] for d in final["deliveries"]] == ["sent", "sent"]
    assert final["status"] == "completed"
    assert [e["level"] for e in final["events"] if e["kind"] == "level_fired"] == [0, 1]  # each level once


async def _escalation_when(service: Service, condition) -> dict:
    for _ in range(400):
        state = await service.get("/v1/escalations/inc-1")
        if condition(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the escalation never reached the expected state: {json.dumps(state)[:2000]}")
