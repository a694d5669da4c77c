"""What is particular to the SQLite store: the file's settings, its schema version and migrations, refusing what it
cannot read with an error naming the file, rolling back a commit that fails halfway, and concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import attrs
import pytest
from support.store import notification, plugins, row

import tocsin
from tocsin.store.errors import StoreError
from tocsin.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from tocsin.store.sqlite.store import SQLiteStore


def open_store(path: Path, **options) -> SQLiteStore:
    return SQLiteStore(path, plugins().registry, clock=tocsin.ManualClock(row().incident.created_at), **options)


def test_the_file_is_in_wal_mode_with_its_schema_version_recorded(tmp_path):
    path = tmp_path / "tocsin.db"
    with open_store(path):
        pass
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1


def test_reopening_a_current_file_applies_no_migration_and_keeps_the_data(tmp_path):
    path = tmp_path / "tocsin.db"
    with open_store(path) as store:
        store.commit(row(), expected_version=None)
    with sqlite3.connect(path) as connection:
        assert migrate(connection, str(path)) == SCHEMA_VERSION  # found current: nothing to do
    with open_store(path) as store:
        assert store.load("inc-1") == row()


def test_a_file_from_a_newer_tocsin_is_refused(tmp_path):
    path = tmp_path / "tocsin.db"
    with open_store(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=rf"store {path}: schema version {SCHEMA_VERSION + 1} was written by a newer"):
        open_store(path)


def test_a_file_that_is_not_a_database_and_a_missing_directory_are_clear_errors(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match=rf"store {junk}: cannot .* SQLite database"):
        open_store(junk)
    missing = tmp_path / "nope" / "tocsin.db"
    with pytest.raises(StoreError, match=rf"the directory {missing.parent} does not exist"):
        open_store(missing)


def test_a_closed_store_refuses_to_work(tmp_path):
    store = open_store(tmp_path / "tocsin.db")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.load("inc-1")
    with pytest.raises(ValueError, match="synchronous"):
        open_store(tmp_path / "other.db", synchronous="sometimes")


def test_a_commit_that_fails_halfway_writes_nothing(tmp_path):
    with open_store(tmp_path / "tocsin.db") as store:
        store.commit(row(), expected_version=None)
        unwritable = attrs.evolve(row().incident, payload={"not json": {1, 2}})  # a set has no JSON form
        broken = attrs.evolve(notification("bad"), incident=unwritable)
        with pytest.raises(TypeError):
            store.commit(row(version=2, level=0), expected_version=1, notifications=[notification("ok"), broken])
        assert store.load("inc-1") == row()  # the row update was rolled back too
        assert store.delivery("ok") is None and store.events("inc-1#1") == []
        store.commit(row(version=2, level=0), expected_version=1, notifications=[notification("ok")])
        assert store.load("inc-1").version == 2


def test_of_many_threads_writing_the_same_version_through_separate_connections_exactly_one_wins(tmp_path):
    path = tmp_path / "tocsin.db"
    with open_store(path) as store:
        store.commit(row(), expected_version=None)
    stores = [open_store(path) for _ in range(8)]
    outcomes: list[str] = []
    gate = threading.Barrier(len(stores))

    def write(number: int, store: SQLiteStore) -> None:
        gate.wait()
        try:
            store.commit(
                row(version=2, level=0, acknowledged_by=f"t{number}"),
                expected_version=1,
                notifications=[notification(f"page-{number}")],
            )
            outcomes.append(f"t{number}")
        except tocsin.StaleStateError:
            outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [outcome for outcome in outcomes if outcome != "stale"]
    assert len(winners) == 1 and len(outcomes) == 8
    for store in stores:
        store.close()
    with open_store(path) as store:
        assert store.load("inc-1").acknowledged_by == winners[0]
        assert [n.key for n in store.pending()] == [f"page-{winners[0][1:]}"]
