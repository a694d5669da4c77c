"""Three `tocsin serve` instances on one PostgreSQL database, one of them killed with SIGKILL at random moments
(a fixed seed, 30 kills, each instance restarted at once) while a client spreads incidents, escalations,
acknowledgements and resolutions over whichever instances are up, retrying as a careful client does after a
broken connection. A webhook receiver on 127.0.0.1 counts what arrived: every expected page arrived, no
(incident, level, recipient) arrived under two different webhook-ids (a webhook-id repeated is the transport's
retry, which receivers drop), nothing paged for a level that was never reached. Run with ``-s`` for the counts."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import datetime
from pathlib import Path

import aiohttp
import yaml
from support.delivery_receiver import Receiver
from support.processes import SECRET, TOKEN, Service

INSTANCES = 3
INCIDENTS = 45
KILLS = 30
SEED = 20261203
LEASE_SECONDS = 5


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


def _config(directory: Path, urls: list[str], name: str, delays=(0, 30, 30), **storage: object) -> Path:
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}], "instance_id": name},
        "storage": {
            "backend": "postgresql",
            "dsn_env": "TOCSIN_TEST_DATABASE_URL",
            "lease_seconds": LEASE_SECONDS,
            **storage,
        },
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        "delivery": {"timeout_seconds": 2, "lease_seconds": 3, "base_seconds": 1, "cap_seconds": 2},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": delay, "targets": [{"type": "webhook", "url": url}]}
                    for delay, url in zip(delays, urls, strict=True)
                ],
            }
        ],
    }
    path = directory / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _instances(tmp_path: Path, urls: list[str], dsn: str, **config: object) -> list[Service]:
    """INSTANCES `tocsin serve` processes (not started yet) on the database ``dsn``, each with its own directory
    and name (``pager-N``); ``config`` goes to :func:`_config`."""
    services: list[Service] = []
    for number in range(INSTANCES):
        directory = tmp_path / f"instance-{number}"
        directory.mkdir()
        service = Service(_config(directory, urls, f"pager-{number}", **config), directory)
        service.env = {"TOCSIN_TEST_DATABASE_URL": dsn}
        services.append(service)
    return services


async def test_killing_instances_of_three_at_random_loses_and_doubles_no_page(postgres_dsn, tmp_path, capsys):
    receiver = Receiver()
    await receiver.start()
    urls = [receiver.script(f"/level{level}") for level in range(3)]
    services = _instances(tmp_path, urls, postgres_dsn)
    rng = random.Random(SEED)
    up = [asyncio.Event() for _ in services]
    kills = 0
    turn = 0

    async def killer() -> None:
        nonlocal kills
        while kills < KILLS:
            await asyncio.sleep(rng.uniform(0.1, 0.6))
            victim = rng.randrange(len(services))
            up[victim].clear()
            await services[victim].kill()
            kills += 1
            await services[victim].start()
            up[victim].set()

    def next_live() -> Service:
        nonlocal turn
        for _ in range(len(services)):
            turn = (turn + 1) % len(services)
            if up[turn].is_set():
                return services[turn]
        return services[turn]

    async def act(method: str, route: str, body: dict | None, done) -> tuple[int, dict]:
        """Send to the next live instance until answered; after a broken connection, look at the state (on
        any instance) first and resend only when the request is not seen to have taken effect."""
        broken = False
        for _ in range(60):
            if broken:
                await asyncio.sleep(0.05)
                state = await _request(next_live(), "GET", route.rsplit("/", 1)[0].replace("incidents", "escalations"))
                if state is not None and state[0] == 200 and done(state[1]):
                    return state
            answer = await _request(next_live(), method, route, body)
            if answer is not None and answer[0] != 503:
                return answer
            broken = True
        raise AssertionError(f"{method} {route}: no answer\n" + "\n".join(s.log() for s in services))

    expected: set[tuple[str, int, str]] = set()
    try:
        for number, service in enumerate(services):
            await service.start()
            up[number].set()
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
        for service in services:
            await service.kill()
        await receiver.stop()
    triples = delivered()
    requests = sum(len(receiver.on(f"/level{level}")) for level in range(3))
    ids = sum(len({r.headers["webhook-id"] for r in receiver.on(f"/level{level}")}) for level in range(3))
    lateness = sorted(_lateness(receiver))
    counts = {
        "instances": INSTANCES,
        "kills": kills,
        "expected": len(expected),
        "delivered": len(expected & set(triples)),
        "lost": len(expected - set(triples)),
        "duplicate_ids": requests - ids,
        "duplicate_triples": sum(count - 1 for count in triples.values() if count > 1),
        "unexpected": len(set(triples) - expected),
        "max_late_seconds": round(lateness[-1], 2),
    }
    with capsys.disabled():
        print("\npostgresql kill run:", " ".join(f"{name}={value}" for name, value in counts.items()))
    assert counts["kills"] == KILLS
    assert (counts["lost"], counts["duplicate_triples"], counts["unexpected"]) == (0, 0, 0), counts
    assert lateness[-1] <= LEASE_SECONDS + 5, counts  # no level fired later than its lease plus 5 s


def _lateness(receiver: Receiver) -> list[float]:
    """Seconds from each delivered page's due time to when its level fired."""
    late: list[float] = []
    for level in range(3):
        for request in receiver.on(f"/level{level}"):
            page = json.loads(request.body)
            fired, due = datetime.fromisoformat(page["fired_at"]), datetime.fromisoformat(page["due_at"])
            late.append((fired - due).total_seconds())
    return late or [0.0]


async def test_two_hundred_incidents_spread_over_three_instances_page_each_level_exactly_once(
    postgres_dsn, tmp_path, capsys
):
    receiver = Receiver()
    await receiver.start()
    urls = [receiver.script(f"/level{level}") for level in range(3)]
    services = _instances(tmp_path, urls, postgres_dsn)
    try:
        for service in services:
            await service.start()

        async def send(service: Service, method: str, path: str, body: dict) -> None:
            answer = await _request(service, method, path, body)
            assert answer is not None and answer[0] in (200, 201), answer

        numbers = range(200)
        for start in range(0, len(numbers), 25):  # 25 clients at a time, each instance in turn
            batch = numbers[start : start + 25]
            await asyncio.gather(
                *(
                    send(
                        services[n % INSTANCES],
                        "POST",
                        "/v1/incidents",
                        {"id": f"inc-{n}", "title": "Disk full", "severity": "P1"},
                    )
                    for n in batch
                )
            )
            await asyncio.gather(  # escalated on the next instance: not the one that raised it
                *(
                    send(services[(n + 1) % INSTANCES], "POST", f"/v1/incidents/inc-{n}/escalate", {"by": "ops"})
                    for n in batch
                )
            )
        expected = {(f"inc-{n}", level, urls[level]) for n in numbers for level in (0, 1)}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            seen = {(json.loads(r.body)["incident"]["id"], level, urls[level]) for level in range(2)
                    for r in receiver.on(f"/level{level}")}  # fmt: skip
            if expected <= seen:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        for service in services:
            await service.kill()
        await receiver.stop()
    ids: dict[str, tuple[str, int]] = {}
    triples: Counter[tuple[str, int, str]] = Counter()
    for level in range(3):
        for request in receiver.on(f"/level{level}"):
            page = json.loads(request.body)
            ids[request.headers["webhook-id"]] = (page["incident"]["id"], page["level"])
    for incident_id, level in ids.values():
        triples[(incident_id, level, urls[level])] += 1
    counts = {
        "instances": INSTANCES,
        "incidents": len(numbers),
        "expected": len(expected),
        "delivered": len(expected & set(triples)),
        "requests": sum(len(receiver.on(f"/level{level}")) for level in range(3)),
        "webhook_ids": len(ids),
        "duplicate_triples": sum(count - 1 for count in triples.values() if count > 1),
        "unexpected": len(set(triples) - expected),
    }
    with capsys.disabled():
        print("\npostgresql round robin:", " ".join(f"{name}={value}" for name, value in counts.items()))
    assert counts["delivered"] == counts["expected"] == 400, counts
    assert (counts["duplicate_triples"], counts["unexpected"]) == (0, 0), counts


async def test_levels_coming_due_while_instances_die_fire_within_their_lease_plus_5_seconds(
    postgres_dsn, tmp_path, capsys
):
    """Level 1 fires from the timer a minute after each incident, while instances keep dying: whoever started an
    escalation is likely dead when its level comes due, and the poll for due work nobody runs is every 30 s here.
    What a restarted instance claims at start and what the others hear announced keep every level within its
    lease plus 5 s, sent once."""
    receiver = Receiver()
    await receiver.start()
    urls = [receiver.script(f"/level{level}") for level in range(2)]
    services = _instances(tmp_path, urls, postgres_dsn, delays=(0, 1), claim_every_seconds=30)
    rng = random.Random(SEED + 1)
    up = [asyncio.Event() for _ in services]
    kills = 0

    async def killer() -> None:
        nonlocal kills
        while kills < KILLS:
            await asyncio.sleep(rng.uniform(2.0, 3.6))  # 30 kills over ~85 s: through the minute the levels come due
            victim = rng.randrange(len(services))
            up[victim].clear()
            await services[victim].kill()
            kills += 1
            await services[victim].start()
            up[victim].set()

    async def send(method: str, route: str, body: dict) -> tuple[int, dict]:
        for attempt in range(100):
            live = [service for number, service in enumerate(services) if up[number].is_set()]
            answer = await _request(live[attempt % len(live)], method, route, body) if live else None
            if answer is not None and answer[0] != 503:
                return answer
            await asyncio.sleep(0.05)
        raise AssertionError(f"{method} {route}: no answer")

    expected: set[tuple[str, int]] = set()
    try:
        for number, service in enumerate(services):
            await service.start()
            up[number].set()
        chaos = asyncio.create_task(killer())
        for number in range(INCIDENTS):
            incident_id = f"inc-{number}"
            # A retried POST after a broken connection is a duplicate of one that took effect: the same id.
            status, _ = await send("POST", "/v1/incidents", {"id": incident_id, "title": "Disk full", "severity": "P1"})
            assert status in (200, 201)
            expected.add((incident_id, 0))
            if number % 3 == 0:
                expected.add((incident_id, 1))  # left alone: level 1 fires from the timer a minute later
            else:
                status, _ = await send("POST", f"/v1/incidents/{incident_id}/resolve", {"by": "ops"})
                assert status == 200
            await asyncio.sleep(0.2)
        await chaos
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 40

        def seen() -> set[tuple[str, int]]:
            return {
                (json.loads(r.body)["incident"]["id"], level)
                for level in range(2)
                for r in receiver.on(f"/level{level}")
            }

        while not expected <= seen() and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        for service in services:
            await service.kill()
        await receiver.stop()
    timed = [json.loads(r.body) for r in receiver.on("/level1")]
    late = sorted(
        (datetime.fromisoformat(page["fired_at"]) - datetime.fromisoformat(page["due_at"])).total_seconds()
        for page in timed
    )
    counts = {
        "instances": INSTANCES,
        "kills": kills,
        "expected": len(expected),
        "delivered": len(expected & seen()),
        "lost": len(expected - seen()),
        "unexpected": len(seen() - expected),
        "timer_levels": len(timed),
        "max_late_seconds": round(late[-1], 2) if late else None,
    }
    with capsys.disabled():
        print("\npostgresql timer kill run:", " ".join(f"{name}={value}" for name, value in counts.items()))
    assert counts["kills"] == KILLS
    assert (counts["lost"], counts["unexpected"]) == (0, 0), counts
    assert len({r.headers["webhook-id"] for r in receiver.on("/level1")}) == INCIDENTS // 3, counts  # each once
    assert late[-1] <= LEASE_SECONDS + 5, counts


async def test_the_levels_of_an_instance_that_died_for_good_fire_on_time_on_the_others(postgres_dsn, tmp_path):
    """No restart to claim at start-up, and a poll every 30 s: the surviving instances fire the dead one's levels
    when they come due because they heard when that would be (LISTEN/NOTIFY)."""
    receiver = Receiver()
    await receiver.start()
    urls = [receiver.script(f"/level{level}") for level in range(2)]
    services = _instances(tmp_path, urls, postgres_dsn, delays=(0, 1), claim_every_seconds=30)
    try:
        for service in services:
            await service.start()
        doomed, *survivors = services
        for number in range(6):
            answer = await _request(
                doomed, "POST", "/v1/incidents", {"id": f"inc-{number}", "title": "Disk full", "severity": "P1"}
            )
            assert answer is not None and answer[0] == 201, answer
        await doomed.kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 100
        while len(receiver.on("/level1")) < 6 and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        health = [await survivor.get("/health") for survivor in survivors]
    finally:
        for service in services:
            await service.kill()
        await receiver.stop()
    pages = [json.loads(request.body) for request in receiver.on("/level1")]
    assert sorted(page["incident"]["id"] for page in pages) == [f"inc-{number}" for number in range(6)]
    late = [
        (datetime.fromisoformat(page["fired_at"]) - datetime.fromisoformat(page["due_at"])).total_seconds()
        for page in pages
    ]
    assert max(late) < 2.0, late  # the poll alone would have taken up to 30 s
    assert all(answer["hears_announcements"] is True for answer in health), health
