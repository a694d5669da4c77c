"""Storage faults as an operator meets them, on a real server over 127.0.0.1 and real SQLite files: a write
lock another process holds (requests wait for it without holding up the server), a full filesystem (a real,
small tmpfs) and a read-only database. In each: no 2xx is lost, nothing is half-written, /health says what is
wrong, and the server recovers by itself once the fault is gone."""

from __future__ import annotations

import contextlib
import errno
import json
import sqlite3
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.server import CONFIG, READER, RESPONDER, START, ServerThread, bearer, load
from support.store import plugins

import tocsin
from tocsin.server import create_app
from tocsin.server.storage import sqlite_storage
from tocsin.store.sqlite.store import SQLiteStore

P1 = {"title": "Disk full on db-1", "severity": "P1"}


def send(url: str, token: str = RESPONDER, body: dict | None = None, **headers: str) -> tuple[int, Any, float]:
    """(status, JSON answer, seconds taken) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **bearer(token), **headers}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read()), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), time.perf_counter() - started


@contextlib.contextmanager
def serving(path: Path, storage_settings: str = "") -> Iterator[ServerThread]:
    document = CONFIG.replace("storage: {backend: memory}", f"storage: {{path: {path}{storage_settings}}}")
    config = load(document, plugins())
    clock = tocsin.ManualClock(START)
    storage = sqlite_storage(str(path), plugins().registry, clock)
    with ServerThread(create_app(config, plugins(), storage=storage, clock=clock)) as running:
        yield running
    storage.close()


def stored_incidents(path: Path) -> dict[str, str | None]:
    """Each incident in the file with its escalation's status (None: it has none), read by a fresh store."""
    store = SQLiteStore(path, plugins().registry)
    try:
        found = {}
        for incident in store.incidents.list_incidents(open_only=False, limit=1000, offset=0):
            row = store.load(incident.id)
            found[incident.id] = row.status.value if row is not None else None
        return found
    finally:
        store.close()


# --- a lock another process holds -----------------------------------------------------------------------


def test_requests_wait_for_a_lock_without_holding_up_the_server(tmp_path):
    path = tmp_path / "tocsin.db"
    with serving(path) as server:
        answers: list[tuple[int, Any, float]] = []
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, held for a while
        try:
            writer = threading.Thread(target=lambda: answers.append(send(f"{server.url}/v1/incidents", body=P1)))
            writer.start()
            health, reads = [], []
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                health.append(send(f"{server.url}/health"))
                reads.append(send(f"{server.url}/v1/incidents", READER))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        writer.join(timeout=30)
    assert len(health) >= 5
    # Meanwhile the server answered at once: /health says what is wrong, a read sees the store as it was.
    assert statistics.median(seconds for _, _, seconds in health) < 0.1, health
    assert statistics.median(seconds for _, _, seconds in reads) < 0.1, reads
    assert {status for status, _, _ in health} == {503}
    assert all("locked" in body["store_error"] for _, body, _ in health)
    assert {(status, len(body["incidents"])) for status, body, _ in reads} == {(200, 0)}
    # The write waited for the lock (asynchronously) and went through once it was released.
    [(status, body, seconds)] = answers
    assert status == 201, body
    assert seconds >= 1.0
    assert stored_incidents(path) == {body["incident"]["id"]: "active"}


def test_a_lock_held_past_the_lock_wait_is_a_503_that_changed_nothing(tmp_path):
    path = tmp_path / "tocsin.db"
    with serving(path, ", lock_wait_seconds: 0.3") as server:
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            status, body, seconds = send(f"{server.url}/v1/incidents", body=P1, **{"Idempotency-Key": "k-1"})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert status == 503 and "nothing was changed" in body["error"], body
        assert 0.3 <= seconds < 2
        assert stored_incidents(path) == {}
        status, body, _ = send(f"{server.url}/v1/incidents", body=P1, **{"Idempotency-Key": "k-1"})
        assert status == 201, body
        assert send(f"{server.url}/health")[0] == 200
    assert stored_incidents(path) == {body["incident"]["id"]: "active"}


# --- a full filesystem --------------------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path) -> Iterator[Path]:
    """A real tmpfs of 4 MiB mounted at a fresh directory (mounting needs root's CAP_SYS_ADMIN)."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; returns the file that does it."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        block = b"\0" * 65536
        while True:
            try:
                out.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for size in (4096, 512, 1):  # what is left of the last blocks
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


def test_a_full_filesystem_is_503_and_health_says_so_until_space_returns(small_filesystem):
    path = small_filesystem / "tocsin.db"
    with serving(path) as server:
        accepted: dict[str, str] = {}
        status, body, _ = send(f"{server.url}/v1/incidents", body={**P1, "dedup_key": "before"})
        assert status == 201
        accepted["before"] = body["incident"]["id"]
        filler = fill(small_filesystem)
        refused: list[str] = []
        for n in range(40):  # until a write needs a page the file system no longer has
            key = f"while-full-{n}"
            status, body, _ = send(f"{server.url}/v1/incidents", body={**P1, "dedup_key": key})
            if status == 201:
                accepted[key] = body["incident"]["id"]
            else:
                assert status == 503 and "nothing was changed" in body["error"], body
                refused.append(key)
                break
        assert refused, "the full filesystem never refused a write"
        status, health, _ = send(f"{server.url}/health")
        assert status == 503 and "full" in health["store_error"], health
        filler.unlink()  # space again: the next write succeeds and /health says ok
        status, body, _ = send(f"{server.url}/v1/incidents", body={**P1, "dedup_key": refused[0]})
        assert status == 201, body
        accepted[refused[0]] = body["incident"]["id"]
        assert send(f"{server.url}/health")[0] == 200
    # Every 2xx is in the file, each incident with its escalation; nothing refused left a trace.
    assert stored_incidents(path) == {incident_id: "active" for incident_id in accepted.values()}


# --- a read-only database --------------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(storage_path: Path, server: ServerThread) -> Iterator[None]:
    """The server's database read-only under it, as SQLite itself refuses writes to a read-only file.

    Root may write to any file, and Linux refuses to remount a filesystem read-only while a file on it is open
    for writing, so the read-only file is made as SQLite sees one: the store's connection is swapped, within
    the server's loop, for one that SQLite opened read-only (``mode=ro``), and swapped back after."""
    database = server.app.state.service.storage.escalations.database
    read_only_connection = sqlite3.connect(
        f"file:{storage_path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    writable = server.call(lambda: swap(database, read_only_connection))
    try:
        yield
    finally:
        server.call(lambda: swap(database, writable))
        read_only_connection.close()


def swap(database: Any, connection: sqlite3.Connection) -> sqlite3.Connection:
    with database._lock:
        before, database._connection = database._connection, connection
    return before


def test_a_read_only_database_is_503_and_health_says_so_until_it_is_writable(tmp_path):
    path = tmp_path / "tocsin.db"
    with serving(path) as server:
        status, body, _ = send(f"{server.url}/v1/incidents", body=P1)
        assert status == 201
        first = body["incident"]["id"]
        with read_only(path, server):
            status, health, _ = send(f"{server.url}/health")
            assert status == 503 and "readonly" in health["store_error"], health
            status, body, _ = send(f"{server.url}/v1/incidents", body={**P1, "dedup_key": "ro"})
            assert status == 503 and "nothing was changed" in body["error"], body
            status, body, _ = send(f"{server.url}/v1/incidents/{first}/acknowledge", body={})
            assert status == 503, body
            listed = send(f"{server.url}/v1/incidents", READER)[1]["incidents"]
            assert [incident["id"] for incident in listed] == [first]  # reads go on
        status, body, _ = send(f"{server.url}/v1/incidents", body={**P1, "dedup_key": "ro"})
        assert status == 201, body
        second = body["incident"]["id"]
        assert send(f"{server.url}/health")[0] == 200
    assert stored_incidents(path) == {first: "active", second: "active"}


def test_serve_refuses_to_start_on_a_read_only_filesystem_and_says_why(small_filesystem, tmp_path):
    path = small_filesystem / "tocsin.db"
    with serving(path) as server:
        assert send(f"{server.url}/v1/incidents", body=P1)[0] == 201
    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True)
    try:
        config = tmp_path / "tocsin.yaml"
        config.write_text(CONFIG.replace("storage: {backend: memory}", f"storage: {{path: {path}}}"))
        done = subprocess.run(
            ["tocsin", "serve", "--config", str(config), "--port", "0"], capture_output=True, text=True, timeout=60
        )
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_filesystem)], check=True)
    assert done.returncode != 0
    assert "read-only" in done.stderr and str(path) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
