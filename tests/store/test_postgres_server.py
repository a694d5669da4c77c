"""The throwaway PostgreSQL server of the tests (support.postgres) itself, through psycopg: it answers, each
`create_database()` is a database of its own, and committed data survives a restart."""

from __future__ import annotations

import psycopg


def test_the_server_answers(postgres_dsn):
    with psycopg.connect(postgres_dsn) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        assert connection.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert connection.execute("SHOW fsync").fetchone() == ("off",)


def test_two_databases_are_separate(postgres_server):
    first, second = postgres_server.create_database(), postgres_server.create_database()
    try:
        assert first != second
        with psycopg.connect(first) as connection:
            connection.execute("CREATE TABLE only_here (n int)")
        with psycopg.connect(second) as connection:
            assert connection.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)


def test_a_committed_row_survives_a_restart(postgres_server, postgres_dsn):
    with psycopg.connect(postgres_dsn) as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept VALUES (42)")
    port = postgres_server.port
    postgres_server.restart()
    assert postgres_server.port == port
    with psycopg.connect(postgres_dsn) as connection:
        assert connection.execute("SELECT n FROM kept").fetchall() == [(42,)]
