"""``tocsin serve``: serves until SIGTERM and then stops cleanly; clear exit-1 errors for what would stop it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from support.server import CONFIG, RESPONDER, bearer

import tocsin
from tocsin.store.sqlite.store import SQLiteStore

SERVING = re.compile(r"serving (http://\S+)")


def write_config(tmp_path: Path, **sections: Any) -> Path:
    document = yaml.safe_load(CONFIG)
    document["storage"] = {"path": str(tmp_path / "tocsin.db")}
    document.update(sections)
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def tocsin_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "tocsin", *arguments]


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tocsin_command(*arguments), capture_output=True, text=True, timeout=120)


def request(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as answer:
        return answer.status, json.loads(answer.read())


class Served:
    """``tocsin serve`` in a subprocess; the URL is read from the line it prints when it is ready."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            tocsin_command("serve", "--config", str(config), "--port", "0"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stderr: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.stderr.append(line)
                match = SERVING.search(line)
                if match:
                    self.url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        if not found.wait(timeout=60) or not self.url:
            self.process.kill()
            raise AssertionError(f"tocsin serve did not start: {''.join(self.stderr)}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


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
