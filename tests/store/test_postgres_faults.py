"""The PostgreSQL store when its server goes away: a restart of the database under an open store costs the
operations made while it was down (each a clear ``StoreError`` naming the database, never half a write) and
nothing after it (the pool reconnects); an unreachable server, a schema from a newer tocsin and a closed store
are errors that say what and where; and the database's clock is what every instance on it calls "now"."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from support.store import START, incident, plugins, row

import tocsin
from tocsin.store.errors import StoreError
from tocsin.store.postgres.clock import DatabaseClock
from tocsin.store.postgres.schema import SCHEMA_VERSION
from tocsin.store.postgres.store import PostgresStore


def reconnected(store: PostgresStore, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if store.database.probe() is None:
            return True
        time.sleep(0.1)
    return False


def open_store(dsn: str) -> PostgresStore:
    return PostgresStore(dsn, plugins().registry, clock=tocsin.ManualClock(START), connect_timeout=2)


def test_after_the_database_restarts_the_store_reconnects_and_what_was_committed_is_there(
    postgres_server, postgres_dsn
):
    with open_store(postgres_dsn) as store:
        store.commit(row("inc-1"), expected_version=None)
        store.incidents.save(incident("inc-1"))
        postgres_server.restart()
        assert store.load("inc-1") == row("inc-1")  # the pool found its connection dead and made a new one
        store.commit(row("inc-2"), expected_version=None)
        assert [entry.incident_id for entry in store.open_index()] == ["inc-1", "inc-2"]
        assert store.incidents.get("inc-1") == incident("inc-1")


def test_while_the_database_is_down_each_operation_fails_clearly_and_writes_nothing(postgres_server, postgres_dsn):
    with open_store(postgres_dsn) as store:
        store.commit(row("inc-1"), expected_version=None)
        postgres_server.kill()
        with pytest.raises(StoreError, match=r"store postgresql://postgres@127\.0\.0\.1:\d+/\w+: "):
            store.commit(row("inc-2"), expected_version=None)
        assert store.database.probe() is not None  # /health says the store is failing
        postgres_server.start()
        assert reconnected(store)  # the pool tries again with a backoff of its own: seconds, not a restart
        assert store.load("inc-2") is None and store.load("inc-1") == row("inc-1")


def test_an_unreachable_server_a_newer_schema_and_a_closed_store_are_clear_errors(postgres_server, postgres_dsn):
    with psycopg.connect(postgres_server.dsn()) as probe:
        (port,) = probe.execute("SELECT inet_server_port()").fetchone() or (0,)
    nobody = postgres_dsn.replace(f":{port}/", ":9/")
    with pytest.raises(StoreError, match=r"store postgresql://postgres@127\.0\.0\.1:9/\w+: cannot connect within 2 s"):
        open_store(nobody)
    with open_store(postgres_dsn):
        pass
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1} was written by a newer tocsin"):
        open_store(postgres_dsn)
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
    store = open_store(postgres_dsn)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.load("inc-1")


def test_the_database_clock_is_the_servers_whatever_the_local_clock_says_and_survives_an_outage(
    postgres_server, postgres_dsn
):
    local = tocsin.ManualClock(START)  # months off the server's clock, as a host with a broken NTP could be
    with open_store(postgres_dsn) as store:
        clock = DatabaseClock(store.database, local=local, refresh_seconds=3600)
        with psycopg.connect(postgres_dsn) as connection:
            (server_now,) = connection.execute("SELECT clock_timestamp()").fetchone() or (None,)
        assert abs((clock.now() - server_now).total_seconds()) < 5
        offset = clock.offset
        local.advance(minutes=5)
        assert clock.now() - server_now >= timedelta(minutes=5) - timedelta(seconds=5)  # time moves on locally
        postgres_server.kill()
        assert clock.measure() == offset  # unreachable: the last offset stands
        assert clock.offset == offset
        postgres_server.start()
