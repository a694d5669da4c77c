"""Reloading the config without a restart, through HTTP on a real server (a SQLite file) and by SIGHUP to a real
``tocsin serve``: a file with one bad field changes nothing and names the field; a good one changes routing for
the next incident, not an escalation in flight, and its teams and schedules apply to levels that fire after it."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path
from typing import Any

import yaml
from support.api import running
from support.served import Served, request
from support.server import CONFIG, READER, RESPONDER

POLICIES = "policies"


def write(path: Path, document: dict[str, Any]) -> str:
    """Write the config; returns its SHA-256, which /health must show once it is in force."""
    text = yaml.safe_dump(document, sort_keys=False).encode("utf-8")
    path.write_bytes(text)
    return hashlib.sha256(text).hexdigest()


def config_document(tmp_path: Path) -> dict[str, Any]:
    document = yaml.safe_load(CONFIG)
    document["storage"] = {"path": str(tmp_path / "tocsin.db")}
    return document


async def test_a_reload_with_one_bad_field_changes_nothing_and_names_the_field(tmp_path):
    path = tmp_path / "tocsin.yaml"
    document = config_document(tmp_path)
    first = write(path, document)
    async with running(path.read_text(), db=tmp_path / "tocsin.db", config_source=path) as api:
        health = await api.ok("GET", "/health", None)
        assert health["config_hash"] == first and health["config_loaded_at"] == "2026-03-02T14:00:00+00:00"
        document[POLICIES][0]["levels"][1]["delay_minutes"] = -5
        document[POLICIES][0]["levels"][1]["targets"] = [{"type": "user", "email": "new-lead@example.com"}]
        write(path, document)
        api.advance(minutes=1)
        status, body = await api.call("POST", "/v1/config/reload")
        assert status == 422
        assert [(e["location"], e["path"]) for e in body["errors"]] == [
            (str(path), "$.policies[0].levels[1].delay_minutes")
        ]
        assert body["error"].startswith(f"the config was not reloaded, nothing changed: {path}: $.policies[0]")
        assert (await api.ok("GET", "/health", None))["config_hash"] == first  # still the first file
        raised = await api.raise_incident()
        api.advance(minutes=5)
        assert api.paged(raised["incident"]["id"]) == [(0, "engineer1@example.com"), (1, "team-lead@example.com")]


async def test_a_good_reload_routes_the_next_incident_anew_but_not_an_escalation_in_flight(tmp_path):
    path = tmp_path / "tocsin.yaml"
    document = config_document(tmp_path)
    write(path, document)
    async with running(path.read_text(), db=tmp_path / "tocsin.db", config_source=path) as api:
        in_flight = (await api.raise_incident())["incident"]["id"]
        document[POLICIES][0]["levels"][1]["targets"] = [{"type": "user", "email": "new-lead@example.com"}]
        document["teams"]["platform"] = ["eng3@example.com"]
        document["rules"].append(
            {
                "name": "Label database pages",
                "priority": 50,
                "conditions": [{"field": "source", "operator": "equals", "value": "monitoring"}],
                "actions": [{"type": "add_labels", "labels": {"reloaded": "yes"}}],
            }
        )
        second = write(path, document)
        api.advance(minutes=1)
        answer = await api.ok("POST", "/v1/config/reload")
        assert (answer["config_hash"], answer["changed"], answer["source"]) == (second, True, str(path))
        assert answer["loaded_at"] == "2026-03-02T14:01:00+00:00"
        health = await api.ok("GET", "/health", None)
        assert (health["config_hash"], health["config_loaded_at"]) == (second, "2026-03-02T14:01:00+00:00")

        fresh = await api.raise_incident()
        assert fresh["incident"]["labels"] == {"reloaded": "yes"}  # the new rules route it
        api.advance(minutes=15)  # 14:16: both escalations reached level 2 (the team)
        assert api.paged(in_flight) == [
            (0, "engineer1@example.com"),
            (1, "team-lead@example.com"),  # its policy snapshot: the old level 1
            (2, "eng3@example.com"),  # the team as it is now: levels firing after the reload use it
        ]
        assert api.paged(fresh["incident"]["id"]) == [
            (0, "engineer1@example.com"),
            (1, "new-lead@example.com"),
            (2, "eng3@example.com"),
        ]
        again = await api.ok("POST", "/v1/config/reload")
        assert (again["config_hash"], again["changed"]) == (second, False)


async def test_the_store_and_the_channels_need_a_restart_and_say_so(tmp_path):
    path = tmp_path / "tocsin.yaml"
    document = config_document(tmp_path)
    first = write(path, document)
    async with running(path.read_text(), db=tmp_path / "tocsin.db", config_source=path) as api:
        document["storage"] = {"path": str(tmp_path / "other.db")}
        document["server"]["auth"] = "none"
        document["server"].pop("tokens")
        write(path, document)
        status, body = await api.call("POST", "/v1/config/reload")
        assert status == 422
        assert [e["path"] for e in body["errors"]] == ["$.storage", "$.server.auth"]
        assert "restart" in body["errors"][0]["message"]
        assert (await api.ok("GET", "/health", None))["config_hash"] == first


async def test_a_new_playbook_needs_a_restart_and_says_so_rather_than_dead_lettering_its_runs(tmp_path):
    # The outbox's playbook runners are made from the playbooks the server started with: a reload that took a new
    # playbook (and the rule that starts it) would queue runs no runner knows, each given up at once.
    path = tmp_path / "tocsin.yaml"
    document = config_document(tmp_path)
    first = write(path, document)
    async with running(path.read_text(), db=tmp_path / "tocsin.db", config_source=path) as api:
        document["playbooks"] = {"restart-db": {"type": "webhook", "url": "https://automation.example.com/restart"}}
        document["rules"].append(
            {
                "name": "Heal the database",
                "conditions": [{"field": "labels.service", "operator": "equals", "value": "db"}],
                "actions": [{"type": "apply_playbook", "playbook_id": "restart-db"}],
            }
        )
        write(path, document)
        status, body = await api.call("POST", "/v1/config/reload")
        assert status == 422
        assert [e["path"] for e in body["errors"]] == ["$.playbooks"]
        assert "restart" in body["errors"][0]["message"]
        assert (await api.ok("GET", "/health", None))["config_hash"] == first
        raised = await api.raise_incident(labels={"service": "db"})
        assert raised["actions"] == []  # the rules in force are the first file's: nothing was queued


async def test_reloading_needs_admin_and_a_file(tmp_path):
    async with running(CONFIG) as api:
        status, _ = await api.call("POST", "/v1/config/reload", RESPONDER)
        assert status == 403
        status, body = await api.call("POST", "/v1/config/reload")
        assert status == 409 and "not a file" in body["error"]
    path = tmp_path / "tocsin.yaml"
    write(path, config_document(tmp_path))
    async with running(path.read_text(), config_source=path) as api:
        path.unlink()
        status, body = await api.call("POST", "/v1/config/reload")
        assert status == 422 and body["errors"][0]["path"] == "$" and "cannot read file" in body["errors"][0]["message"]


def test_sighup_reloads_a_running_tocsin_serve_and_a_bad_file_changes_nothing(tmp_path):
    path = tmp_path / "tocsin.yaml"
    document = config_document(tmp_path)
    first = write(path, document)
    served = Served(path)
    try:
        assert request(f"{served.url}/health")[1]["config_hash"] == first
        document["teams"]["platform"] = ["eng3@example.com"]
        second = write(path, document)
        served.process.send_signal(signal.SIGHUP)
        wait_for(lambda: request(f"{served.url}/health")[1]["config_hash"] == second, served)
        document["policies"][0]["severity_filter"] = ["P9"]
        write(path, document)
        served.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "config not reloaded: nothing changed" in served.output(), served)
        assert f"{path}: $.policies[0].severity_filter[0]" in served.output(), served.output()
        assert request(f"{served.url}/health")[1]["config_hash"] == second
        status, _ = request(f"{served.url}/v1/incidents?limit=1", token=READER)
        assert status == 200  # still serving
    finally:
        code = served.stop()
    assert code == 0, served.output()


def wait_for(condition, served, seconds: float = 30.0) -> None:
    """Poll ``condition`` (a signal is handled asynchronously) until it holds; fail with the server's log."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met; server log:\n" + served.output())
        time.sleep(0.05)
