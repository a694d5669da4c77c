"""What is particular to the SQLite store: the file's settings, its schema version and migrations, refusing what it
cannot read with an error naming the file, rolling back a commit that fails halfway, and concurrent writers."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import attrs
import pytest
from support.store import notification, plugins, policy, row

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


def policy_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT policy_id, digest FROM policies ORDER BY seq").fetchall()


def test_a_policy_snapshot_is_stored_once_per_policy_version(tmp_path):
    path = tmp_path / "tocsin.db"
    changed = attrs.evolve(policy(), repeat=None)
    with open_store(path) as store:
        store.commit(row("inc-1"), expected_version=None)
        store.commit(row("inc-2"), expected_version=None)  # an equal snapshot, another object
        store.commit(row("inc-3", policy=changed), expected_version=None)
        store.commit(row("inc-1", version=2, policy=changed), expected_version=1)
        assert [policy_id for policy_id, _ in policy_rows(path)] == ["standard", "standard"]
    with open_store(path) as store:
        store.commit(row("inc-4", policy=changed), expected_version=None)
        assert len(policy_rows(path)) == 2
        assert store.load("inc-1") == row("inc-1", version=2, policy=changed)
        assert store.load("inc-2") == row("inc-2")
        assert store.load("inc-4").policy is store.load("inc-3").policy  # one object per stored snapshot


def test_a_snapshot_written_in_a_block_that_rolled_back_is_stored_again_next_time(tmp_path):
    path = tmp_path / "tocsin.db"
    snapshot = policy()
    with open_store(path) as store:
        with pytest.raises(RuntimeError), store.atomic():
            store.commit(row("inc-1", policy=snapshot), expected_version=None)
            raise RuntimeError("the operation failed after writing")
        assert policy_rows(path) == []
        store.commit(row("inc-1", policy=snapshot), expected_version=None)
        assert len(policy_rows(path)) == 1
    with open_store(path) as store:
        assert store.load("inc-1") == row("inc-1")


def test_a_version_2_file_moves_its_snapshots_into_one_row_per_policy_version(tmp_path):
    path = tmp_path / "tocsin.db"
    with open_store(path) as store:
        converter = store.database.converter
    first, second = policy(), attrs.evolve(policy(), repeat=None)
    documents = {
        "inc-1": (first, row("inc-1")),
        "inc-2": (first, row("inc-2", status="acknowledged", version=3)),
        "inc-3": (second, row("inc-3", policy=second)),
    }
    older = tmp_path / "v2.db"
    connection = sqlite3.connect(older, isolation_level=None)
    for step in MIGRATIONS[:2]:
        for statement in step:
            connection.execute(statement)
    connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    connection.execute("INSERT INTO schema_version (version) VALUES (2)")
    for incident_id, (snapshot, stored) in documents.items():
        state = converter.unstructure(stored)
        del state["policy"], state["incident"]
        connection.execute(
            "INSERT INTO escalations (escalation_id, incident_id, status, next_due, version, policy, incident, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stored.escalation_id,
                incident_id,
                stored.status.value,
                stored.next_due,
                stored.version,
                json.dumps(converter.unstructure(snapshot)),
                json.dumps(converter.unstructure(stored.incident)),
                json.dumps(state),
            ),
        )
    connection.close()
    with open_store(older) as store:
        assert [store.load(incident_id) for incident_id in documents] == [stored for _, stored in documents.values()]
        assert len(policy_rows(older)) == 2
        store.commit(row("inc-4"), expected_version=None)  # numbering carries on after the moved rows
        assert [entry.incident_id for entry in store.open_index()] == ["inc-1", "inc-2", "inc-3", "inc-4"]
    with sqlite3.connect(older) as check:
        assert check.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert check.execute("SELECT MAX(seq) FROM escalations").fetchone() == (4,)


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
