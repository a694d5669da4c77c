"""``tocsin serve`` as a real subprocess on 127.0.0.1 (port 0): started, its URL read from the line it prints when
it is ready, its output kept, stopped with SIGTERM; and a plain HTTP request helper."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from support.server import bearer

SERVING = re.compile(r"serving (http://\S+)")


def tocsin_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "tocsin", *arguments]


def request(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as answer:
        return answer.status, json.loads(answer.read())


class Served:
    """``tocsin serve`` in a subprocess; ``stderr`` and ``stdout`` keep every line it wrote (log lines too)."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            tocsin_command("serve", "--config", str(config), "--port", "0"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stderr: list[str] = []
        self.stdout: list[str] = []
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

        def keep() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.stdout.append(line)

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=keep, daemon=True).start()
        if not found.wait(timeout=60) or not self.url:
            self.process.kill()
            raise AssertionError(f"tocsin serve did not start: {''.join(self.stderr)}")

    def output(self) -> str:
        """Everything it wrote so far, both streams."""
        return "".join(self.stderr) + "".join(self.stdout)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)
