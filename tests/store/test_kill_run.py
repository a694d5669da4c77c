"""A randomized kill -9 run: `tocsin serve` on a SQLite file is killed at random moments (a fixed seed, a bounded
number of kills, short random delays) while a client raises incidents, escalates, acknowledges and resolves
them, retrying as a careful client does after a broken connection. It prints the counts — expected, delivered,
lost, duplicate webhook ids (the transport may repeat; receivers drop them), duplicate and unexpected
(incident, level, recipient) triples — and holds them to: nothing lost, nothing doubled, nothing paged for a
resolved incident. Run with ``-s`` to see the counts."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp
import yaml
from support.delivery_receiver import Receiver
from support.processes import SECRET, TOKEN, Service

INCIDENTS = 30
KILLS = 20
SEED = 20261203


async def _request(service: Service, method: str, path: str, body: dict | None = None) -> tuple[int, dict] | None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.request(method, f"{service.url}{path}", json=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json()
    except (aiohttp.ClientError, ConnectionError, TimeoutError):
        return None


async def test_a_randomized_kill_9_run_loses_and_doubles_no_page(tmp_path, capsys):
    receiver = Receiver()
    await receiver.start()
    urls = [receiver.script(f"/level{level}") for level in range(3)]
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"path": str(tmp_path / "tocsin.db")},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
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
    rng = random.Random(SEED)
    up = asyncio.Event()
    kills = 0

    async def killer() -> None:
        nonlocal kills
        while kills < KILLS:
            await asyncio.sleep(rng.uniform(0.1, 0.8))
            up.clear()
            await service.kill()
            kills += 1
            await service.start()
            up.set()

    async def act(method: str, route: str, body: dict | None, done) -> tuple[int, dict]:
        """Send until answered; after a broken connection, look at the state first and resend only when the
        request is not seen to have taken effect."""
        broken = False
        for _ in range(50):
            if broken:
                await up.wait()
                state = await _request(service, "GET", route.rsplit("/", 1)[0].replace("incidents", "escalations"))
                if state is not None and state[0] == 200 and done(state[1]):
                    return state
            answer = await _request(service, method, route, body)
            if answer is not None:
                return answer
            broken = True
        raise AssertionError(f"{method} {route}: no answer\n{service.log()}")

    expected: set[tuple[str, int, str]] = set()
    try:
        await service.start()
        up.set()
        chaos = asyncio.create_task(killer())
        for number in range(INCIDENTS):
            incident_id = f"inc-{number}"
            status, _ = await act(
                "POST", "/v1/incidents", {"id": incident_id, "title": "Disk full", "severity": "P1"}, lambda s: False
            )
            assert status in (200, 201)
            expected.add((incident_id, 0, urls[0]))
            route = f"/v1/incidents/{incident_id}"
            status, _ = await act("POST", f"{route}/escalate", {"by": "ops"}, lambda s: s["current_level"] >= 1)
            assert status == 200
            expected.add((incident_id, 1, urls[1]))
            if number % 2:
                status, body = await act(
                    "POST", f"{route}/acknowledge", {"by": "ops"}, lambda s: s["status"] != "active"
                )
                assert status == 200 or (status == 409 and "already acknowledged" in body["error"]), body
            status, _ = await act("POST", f"{route}/resolve", {"by": "ops"}, lambda s: s["status"] == "resolved")
            assert status == 200
        await chaos
        await up.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30

        def delivered() -> Counter[tuple[str, int, str]]:
            triples: Counter[tuple[str, int, str]] = Counter()
            for level in range(3):
                seen: dict[str, tuple[str, int, str]] = {}
                for request in receiver.on(f"/level{level}"):
                    page = json.loads(request.body)
                    seen[request.headers["webhook-id"]] = (page["incident"]["id"], page["level"], urls[level])
                triples.update(seen.values())
            return triples

        while not expected <= set(delivered()) and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        await service.kill()
        await receiver.stop()
    triples = delivered()
    requests = sum(len(receiver.on(f"/level{level}")) for level in range(3))
    ids = sum(len({r.headers["webhook-id"] for r in receiver.on(f"/level{level}")}) for level in range(3))
    counts = {
        "kills": kills,
        "expected": len(expected),
        "delivered": len(expected & set(triples)),
        "lost": len(expected - set(triples)),
        "duplicate_ids": requests - ids,
        "duplicate_triples": sum(count - 1 for count in triples.values() if count > 1),
        "unexpected": len(set(triples) - expected),
    }
    with capsys.disabled():
        print("\nkill run:", " ".join(f"{name}={value}" for name, value in counts.items()))
    assert counts["kills"] == KILLS
    assert (counts["lost"], counts["duplicate_triples"], counts["unexpected"]) == (0, 0, 0), counts
