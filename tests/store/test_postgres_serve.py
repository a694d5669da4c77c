"""`tocsin serve` on PostgreSQL for real: two server processes on one database (the DSN given through
``dsn_env``, never in the file) share incidents and escalations, and a page goes out once however many of
them run; an instance frozen (SIGSTOP) past its lease while sending is taken over and, thawed, sends nothing
stale; the database restarted under running instances loses nothing it answered 2xx for; ``tocsin db
migrate`` brings a database to this tocsin's schema, and a server told not to migrate
refuses one that is behind, as it refuses a DSN with a password in the file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from support.delivery_receiver import Reply
from support.processes import SECRET, TOKEN, Service, distinct_pages, until

from tocsin.store.postgres.schema import SCHEMA_VERSION


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        await service.kill()


def write_config(directory: Path, url: str, **storage: object) -> Path:
    config = {
        "server": {"tokens": [{"name": "tester", "token": TOKEN, "scopes": ["admin"]}]},
        "storage": {"backend": "postgresql", "dsn_env": "TOCSIN_TEST_DATABASE_URL", **storage},
        "channels": {"webhook": {"allow_networks": ["127.0.0.1/32"], "secrets": [SECRET], "timeout_seconds": 2}},
        "policies": [
            {
                "id": "pager",
                "levels": [
                    {"delay_minutes": 0, "targets": [{"type": "webhook", "url": url}]},
                    {"delay_minutes": 30, "targets": [{"type": "user", "email": "lead@example.com"}]},
                ],
            }
        ],
    }
    path = directory / "tocsin.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tocsin(*args: str, dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOCSIN_TEST_DATABASE_URL": dsn, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


async def test_two_servers_on_one_database_share_incidents_and_page_once(postgres_dsn, receiver, services, tmp_path):
    url = receiver.script("/page")
    instances = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        path = write_config(tmp_path / name, url, lease_seconds=30)
        document = yaml.safe_load(path.read_text())
        document["server"]["instance_id"] = f"pager-{name}"
        path.write_text(yaml.safe_dump(document))
        service = instances[name] = Service(path, tmp_path / name)
        service.env = {"TOCSIN_TEST_DATABASE_URL": postgres_dsn}
        services.append(service)
        await service.start()
    a, b = instances["a"], instances["b"]
    health = await b.get("/health")
    assert (health["status"], health["storage"], health["instance_id"]) == ("ok", "postgresql", "pager-b")
    assert (health["claim_every_seconds"], health["lease_seconds"]) == (2.0, 30.0)

    created = await a.post("/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"})
    assert created["policy_id"] == "pager"
    assert (await b.get("/v1/incidents/inc-1"))["incident"]["id"] == "inc-1"  # raised on a, read on b
    acknowledged = await b.post("/v1/incidents/inc-1/acknowledge", {"by": "oncall@example.com"})
    assert acknowledged["escalation"]["status"] == "acknowledged"
    assert (await a.get("/v1/escalations/inc-1"))["status"] == "acknowledged"  # acted on b, seen on a

    await until(lambda: len(receiver.on("/page")) >= 1, "level 0's page", a)
    await asyncio.sleep(1.0)  # time for a second send, were either instance to make one
    pages = distinct_pages(receiver, "/page")
    assert len(pages) == 1 and len(receiver.on("/page")) == 1
    ((_, page),) = pages.items()
    assert (page["incident"]["id"], page["level"]) == ("inc-1", 0)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session, session.get(f"{a.url}/metrics", headers=headers) as answer:
        metrics = await answer.text()
    for counter in ("tocsin_claimed_escalations_total", "tocsin_takeovers_total", "tocsin_cas_conflicts_total"):
        assert f'{counter}{{instance="pager-a"}}' in metrics


async def test_an_instance_frozen_past_its_lease_mid_send_is_taken_over_and_thawed_sends_nothing_stale(
    postgres_dsn, receiver, services, tmp_path
):
    url = receiver.script("/page", Reply(hold=True))  # the frozen instance's attempt never gets an answer
    instances = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        path = write_config(tmp_path / name, url)
        document = yaml.safe_load(path.read_text())
        document["delivery"] = {"timeout_seconds": 2, "lease_seconds": 3, "base_seconds": 1, "cap_seconds": 2}
        path.write_text(yaml.safe_dump(document))
        service = Service(path, tmp_path / name)
        service.env = {"TOCSIN_TEST_DATABASE_URL": postgres_dsn}
        services.append(service)
        await service.start()
        instances.append(service)
    a, b = instances
    await a.post("/v1/incidents", {"id": "inc-1", "title": "Disk full", "severity": "P1"})
    await until(lambda: len(receiver.on("/page")) == 1, "a's attempt at level 0", a)
    assert a.process is not None
    a.process.send_signal(signal.SIGSTOP)  # frozen mid-send, holding the delivery's lease
    try:
        await until(lambda: len(receiver.on("/page")) == 2, "b sending it again once the lease ran out", b)
        acknowledged = await b.post("/v1/incidents/inc-1/acknowledge", {"by": "oncall@example.com"})
        assert acknowledged["escalation"]["status"] == "acknowledged"
    finally:
        a.process.send_signal(signal.SIGCONT)
    await asyncio.sleep(4.0)  # a wakes: its attempt times out, its record is a version behind
    first, second = receiver.on("/page")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same page, which receivers drop
    assert len(receiver.on("/page")) == 2  # nothing more from the thawed instance
    state = await a.get("/v1/escalations/inc-1")
    assert state["status"] == "acknowledged"
    assert [(d["status"], d["attempts"]) for d in state["deliveries"]] == [("sent", 2)]


async def test_the_database_restarted_under_two_instances_loses_nothing_they_answered_2xx_for(
    postgres_server, postgres_dsn, receiver, services, tmp_path
):
    url = receiver.script("/page")
    instances = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        service = Service(write_config(tmp_path / name, url), tmp_path / name)
        service.env = {"TOCSIN_TEST_DATABASE_URL": postgres_dsn}
        services.append(service)
        await service.start()
        instances.append(service)
    accepted: list[str] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def raise_incidents() -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for number in range(60):
                service = instances[number % 2]
                body = {"id": f"inc-{number}", "title": "Disk full", "severity": "P1"}
                try:
                    async with session.post(f"{service.url}/v1/incidents", json=body, headers=headers) as answer:
                        if answer.status in (200, 201):
                            accepted.append(body["id"])
                except (aiohttp.ClientError, TimeoutError):
                    pass  # not answered 2xx: the client would retry; what matters is what was accepted
                await asyncio.sleep(0.05)

    load = asyncio.create_task(raise_incidents())
    for _ in range(2):
        await asyncio.sleep(0.8)
        await asyncio.to_thread(postgres_server.restart)
    await load
    assert len(accepted) >= 10  # enough got through to mean something
    expected = set(accepted)

    def paged() -> set[str]:
        return {json.loads(request.body)["incident"]["id"] for request in receiver.on("/page")}

    await until(lambda: expected <= paged(), "a page for every accepted incident", instances[0], seconds=40)
    for incident_id in accepted:
        found = await instances[1].get(f"/v1/incidents/{incident_id}")
        assert found["incident"]["id"] == incident_id
    ids = [request.headers["webhook-id"] for request in receiver.on("/page")]
    by_incident: dict[str, set[str]] = {}
    for request in receiver.on("/page"):
        by_incident.setdefault(json.loads(request.body)["incident"]["id"], set()).add(request.headers["webhook-id"])
    assert all(len(found) == 1 for found in by_incident.values()), by_incident  # one page each, maybe resent
    assert len(set(ids)) == len(by_incident)


def test_db_migrate_brings_a_database_to_this_schema_and_a_server_that_may_not_migrate_refuses_one_behind(
    postgres_dsn, tmp_path
):
    path = write_config(tmp_path, "http://127.0.0.1:9/page", migrate_on_start=False)
    refused = tocsin("serve", "--config", str(path), "--port", "0", dsn=postgres_dsn)
    assert refused.returncode == 1
    assert f"schema version 0, this tocsin needs {SCHEMA_VERSION}; run `tocsin db migrate`" in refused.stderr
    assert "Traceback" not in refused.stderr and "postgres@127.0.0.1" in refused.stderr

    first = tocsin("db", "migrate", "--config", str(path), dsn=postgres_dsn)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(f"schema version 0 -> {SCHEMA_VERSION}")
    again = tocsin("db", "migrate", "--config", str(path), dsn=postgres_dsn)
    assert again.stdout.strip().endswith(f"schema version {SCHEMA_VERSION}, up to date")


def test_a_dsn_with_a_password_in_the_file_and_an_unset_dsn_env_are_refused_with_where_and_why(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9/page")
    document = yaml.safe_load(path.read_text())
    document["storage"] = {"backend": "postgresql", "dsn": "postgresql://tocsin:hunter2@127.0.0.1/tocsin"}
    path.write_text(yaml.safe_dump(document))
    checked = tocsin("check", str(path), dsn="")
    assert checked.returncode == 1
    assert "$.storage.dsn" in checked.stderr and "holds a password" in checked.stderr
    assert "hunter2" not in checked.stderr

    unset = write_config(tmp_path, "http://127.0.0.1:9/page")
    env = {k: v for k, v in os.environ.items() if k != "TOCSIN_TEST_DATABASE_URL"}
    served = subprocess.run(
        [sys.executable, "-m", "tocsin", "serve", "--config", str(unset), "--port", "0"],
        capture_output=True,
        text=True,
        env={**env, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"},
        timeout=60,
        check=False,
    )
    assert served.returncode == 1
    assert "the environment variable TOCSIN_TEST_DATABASE_URL (dsn_env) is not set" in served.stderr
