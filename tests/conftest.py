"""Suite-wide guard: tests talk to 127.0.0.1 only. A name lookup or a connection anywhere else fails the
test that made it, so no test can page a real endpoint by accident. And the fixtures the whole suite shares: the
built-in plugins, a webhook receiver on 127.0.0.1, and a throwaway PostgreSQL server (started only when a test
asks for it)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import support.plugins
import support.postgres
from support.delivery_receiver import Receiver
from support.loopback import guarded_connect, guarded_connect_ex, guarded_getaddrinfo

import tocsin

# The separately packaged plugins' own tests run in a fresh environment where they are installed
# (tests/kernel/test_thirdparty_plugin.py), never in this one.
collect_ignore = ["thirdparty"]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture
def builtin_plugins() -> tocsin.Plugins:
    """The built-in plugin set (no entry points), loaded once for the run and shared by every test."""
    return support.plugins.builtin_plugins()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (script its answers with ``receiver.script(path, ...)``), stopped after the
    test."""
    running = Receiver()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[support.postgres.PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1, started the first time a test asks for it and shared by the session,
    deleted at its end. Skips the test when PostgreSQL is not installed, fails it if TOCSIN_REQUIRE_POSTGRES is set."""
    server = support.postgres.PostgresServer(support.postgres.binaries_or_skip())
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_dsn(postgres_server: support.postgres.PostgresServer) -> Iterator[str]:
    """The DSN of a fresh, empty database on the session's server, dropped after the test. A server a test stopped
    or killed is started again (on the same port and data) first."""
    postgres_server.start()
    dsn = postgres_server.create_database()
    yield dsn
    if postgres_server.running:
        postgres_server.drop_database(dsn)
