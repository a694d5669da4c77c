"""``tocsin serve``: serves until SIGTERM and then stops cleanly; clear exit-1 errors for what would stop it."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import yaml
from support.served import Served, request, tocsin_command
from support.server import CONFIG, RESPONDER

import tocsin
from tocsin.store.sqlite.store import SQLiteStore


def write_config(tmp_path: Path, **sections: Any) -> Path:
    document = yaml.safe_load(CONFIG)
    document["storage"] = {"path": str(tmp_path / "tocsin.db")}
    document.update(sections)
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tocsin_command(*arguments), capture_output=True, text=True, timeout=120)


def test_serve_answers_until_sigterm_then_stops_cleanly_with_its_state_on_disk(tmp_path):
    served = Served(write_config(tmp_path))
    try:
        status, health = request(f"{served.url}/health")
        assert status == 200 and health["storage"] == "sqlite"
        incident = {"title": "Disk full", "severity": "P1"}
        status, created = request(f"{served.url}/v1/incidents", "POST", incident, token=RESPONDER)
        assert status == 201 and created["escalation"]["status"] == "active"
    finally:
        code = served.stop()
    assert code == 0, "".join(served.stderr)
    assert "tocsin stopped" in "".join(served.stderr)
    assert "Traceback" not in "".join(served.stderr)
    with SQLiteStore(tmp_path / "tocsin.db", tocsin.load_plugins().registry) as store:
        assert store.incidents.get(created["incident"]["id"]).title == "Disk full"
        assert store.load(created["incident"]["id"]).status is tocsin.EscalationStatus.ACTIVE


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--config", str(write_config(tmp_path)), "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == f"cannot listen on 127.0.0.1:{port}: the address is already in use"


def test_a_bad_config_is_a_clear_error(tmp_path):
    config = write_config(tmp_path, server={"port": 70000, "tokens": []})
    done = run("serve", "--config", str(config))
    assert done.returncode == 1
    assert f"{config}: $.server.port: must be a TCP port (0-65535; 0 picks a free one), got 70000" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_server_without_tokens_does_not_start(tmp_path):
    done = run("serve", "--config", str(write_config(tmp_path, server={})), "--port", "0")
    assert done.returncode == 1
    assert "no API tokens are configured" in done.stderr and "server.auth: none" in done.stderr
    assert not (tmp_path / "tocsin.db").exists()  # refused before anything was opened
