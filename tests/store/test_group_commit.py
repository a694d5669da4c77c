"""Group commit on a real SQLite file: concurrent writes share one commit, each caller resumes only once its
write is durable, one failing operation undoes only itself, a commit that cannot happen keeps nothing; and
the write-ahead log is checkpointed by its own thread, not inside commits. Over HTTP: concurrent POSTs to a
server on SQLite all land, each exactly once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from pathlib import Path

import attrs
import pytest
from support.server import CONFIG, RESPONDER, START, ServerThread, load
from support.store import plugins

import tocsin
from tocsin.server import create_app
from tocsin.server.storage import sqlite_storage
from tocsin.store.errors import StoreBusyError, StoreError
from tocsin.store.group import GroupCommit, Inline
from tocsin.store.sqlite.checkpoint import Checkpointer
from tocsin.store.sqlite.store import SQLiteStore

from .test_storage_faults import send, serving, stored_incidents


def incident(number: int) -> tocsin.Incident:
    return tocsin.Incident(id=f"inc-{number}", title="Disk full", severity="P1")


def stored_ids(path: Path) -> set[str]:
    """The incident ids in the file, read by a fresh store (so only what was committed)."""
    with SQLiteStore(path, plugins().registry) as store:
        return {found.id for found in store.incidents.list_incidents(open_only=False, limit=1000, offset=0)}


def test_operations_queued_together_share_one_commit_and_all_land(tmp_path: Path) -> None:
    path = tmp_path / "group.db"
    with SQLiteStore(path, plugins().registry) as store:
        commits = GroupCommit(store)

        def save(number: int) -> str:
            store.incidents.save(incident(number))
            return f"saved {number}"

        async def main() -> list[str]:
            return await asyncio.gather(*(commits.run(lambda n=n: save(n)) for n in range(20)))

        assert asyncio.run(main()) == [f"saved {n}" for n in range(20)]
        assert (commits.groups, commits.operations) == (1, 20)
    assert stored_ids(path) == {f"inc-{n}" for n in range(20)}


def test_a_caller_resumes_after_the_commit_and_its_after_commit_callbacks(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    seen: list[object] = []
    with SQLiteStore(path, plugins().registry) as store:
        commits = GroupCommit(store)

        def write() -> str:
            store.incidents.save(incident(1))
            store.after_commit(lambda: seen.append("after commit"))
            return "written"

        async def main() -> None:
            result = await commits.run(write)
            seen.append(stored_ids(path))  # read from another connection: only committed rows are visible
            seen.append(result)

        asyncio.run(main())
    assert seen == ["after commit", {"inc-1"}, "written"]


def test_a_failing_operation_is_undone_alone_and_its_caller_gets_the_error(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    with SQLiteStore(path, plugins().registry) as store:
        commits = GroupCommit(store)

        def fails() -> None:
            store.incidents.save(incident(2))
            raise ValueError("refused halfway")

        async def main() -> list[object]:
            return await asyncio.gather(
                commits.run(lambda: store.incidents.save(incident(1))),
                commits.run(fails),
                commits.run(lambda: store.incidents.save(incident(3))),
                return_exceptions=True,
            )

        first, second, third = asyncio.run(main())
        assert first is None and third is None
        assert isinstance(second, ValueError) and str(second) == "refused halfway"
        assert commits.groups == 1
    assert stored_ids(path) == {"inc-1", "inc-3"}


def test_a_group_that_cannot_commit_keeps_nothing_and_every_caller_hears_why(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLiteStore(path, plugins().registry, busy_timeout_ms=20) as store:
        commits = GroupCommit(store)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write lock

        async def main() -> list[object]:
            return await asyncio.gather(
                *(commits.run(lambda n=n: store.incidents.save(incident(n))) for n in range(3)),
                return_exceptions=True,
            )

        try:
            outcomes = asyncio.run(main())
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert all(isinstance(outcome, StoreBusyError) for outcome in outcomes)
        assert store.incidents.get("inc-0") is None
    assert stored_ids(path) == set()


def test_more_operations_than_one_group_takes_run_in_several(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "many.db", plugins().registry) as store:
        commits = GroupCommit(store, max_group=8)

        async def main() -> None:
            await asyncio.gather(*(commits.run(lambda n=n: store.incidents.save(incident(n))) for n in range(20)))

        asyncio.run(main())
        assert (commits.groups, commits.operations) == (3, 20)
        assert len(store.incidents.list_incidents(open_only=False, limit=100, offset=0)) == 20
    with pytest.raises(ValueError, match="max_group must be at least 1"):
        GroupCommit(store, max_group=0)


def test_inline_runs_each_operation_in_its_own_block() -> None:
    store = tocsin.InMemoryStore()
    rolled_back: list[str] = []

    def fails() -> None:
        store.after_rollback(lambda: rolled_back.append("undone"))
        raise KeyError("no")

    async def main() -> None:
        assert await Inline(store).run(lambda: 42) == 42
        with pytest.raises(KeyError):
            await Inline(store).run(fails)

    asyncio.run(main())
    assert rolled_back == ["undone"]


def test_the_log_is_checkpointed_by_its_own_thread_not_by_commits(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with SQLiteStore(path, plugins().registry) as store:
        with store.database.reading() as connection:
            assert connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        for number in range(200):  # enough commits to wake the checkpointer more than once
            store.incidents.save(incident(number))
        checkpointer = store.database.checkpointer
        assert isinstance(checkpointer, Checkpointer)
        deadline = time.monotonic() + 20
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints >= 1
    # The checkpoint copied the log into the file: a reader of the database file alone finds every row.
    assert len(stored_ids(path)) == 200


def test_concurrent_posts_on_sqlite_each_land_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    with serving(path) as server:
        url = f"{server.url}/v1/incidents"

        def post(number: int) -> int:
            body = {"title": f"Disk full on db-{number}", "severity": "P1", "dedup_key": f"db-{number}"}
            return send(url, RESPONDER, body)[0]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(post, range(64)))
        # Each retried POST folds into the first: a repeat answers 200, never a second incident.
        repeats = [send(url, RESPONDER, {"title": "again", "severity": "P1", "dedup_key": "db-7"})[0] for _ in range(3)]
    assert statuses == [201] * 64
    assert repeats == [200] * 3
    stored = stored_incidents(path)
    assert len(stored) == 64
    assert set(stored.values()) == {"active"}


def test_with_a_deferred_sync_callers_resume_after_the_log_is_synced_in_another_thread(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    with SQLiteStore(path, plugins().registry, synchronous="full", defer_sync=True) as store:
        with store.database.reading() as connection:  # the commit itself does not sync: the group does
            assert connection.execute("PRAGMA synchronous").fetchone() == (1,)
        synced: list[tuple[str, set[str]]] = []

        def durable() -> None:
            store.database.sync()
            synced.append((threading.current_thread().name, stored_ids(path)))

        commits = GroupCommit(store, durable=durable)

        async def main() -> tuple[list[object], int]:
            results = await asyncio.gather(
                *(commits.run(lambda n=n: store.incidents.save(incident(n))) for n in range(5))
            )
            return results, len(synced)

        results, synced_before_resuming = asyncio.run(main())
        assert results == [None] * 5 and synced_before_resuming == 1
        ((thread, seen),) = synced
        assert thread != threading.main_thread().name  # the fsync ran off the event loop's thread
        assert seen == {f"inc-{n}" for n in range(5)}  # after the commit


def test_a_log_that_cannot_be_synced_fails_every_caller_of_the_group(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "eio.db", plugins().registry) as store:

        def durable() -> None:
            raise StoreError("store eio.db: cannot sync the log to disk: Input/output error")

        commits = GroupCommit(store, durable=durable)

        async def main() -> list[object]:
            return await asyncio.gather(
                *(commits.run(lambda n=n: store.incidents.save(incident(n))) for n in range(3)), return_exceptions=True
            )

        outcomes = asyncio.run(main())
    assert [str(outcome) for outcome in outcomes] == [
        "store eio.db: cannot sync the log to disk: Input/output error"
    ] * 3


def test_a_server_on_full_syncs_the_log_off_the_event_loop_before_it_answers(tmp_path: Path) -> None:
    path = tmp_path / "serve-full.db"
    document = CONFIG.replace("storage: {backend: memory}", f"storage: {{path: {path}, synchronous: full}}")
    config = load(document, plugins())
    clock = tocsin.ManualClock(START)
    storage = sqlite_storage(str(path), plugins().registry, clock, synchronous="full")
    database = storage.escalations.database
    assert database.defers_sync  # its commits do not sync themselves: the group commit must
    synced: list[str] = []

    def sync() -> None:
        database.sync()
        synced.append(threading.current_thread().name)

    counted = attrs.evolve(storage, sync=sync)
    with ServerThread(create_app(config, plugins(), storage=counted, clock=clock)) as server:
        url = f"{server.url}/v1/incidents"
        for number in range(3):
            before = len(synced)
            assert send(url, RESPONDER, {"title": f"t{number}", "severity": "P1"})[0] == 201
            assert len(synced) > before  # the answer came after a sync of the log
    storage.close()
    loop_thread = f"tocsin-server-{server.port}"  # the event loop of the server runs in this thread
    assert synced and loop_thread not in synced and threading.main_thread().name not in synced
    assert len(stored_incidents(path)) == 3
