"""Suite-wide guard: tests talk to 127.0.0.1 only. A name lookup or a connection anywhere else fails the
test that made it, so no test can page a real endpoint by accident."""

from __future__ import annotations

import socket

import pytest
import support.plugins
from support.loopback import guarded_connect, guarded_connect_ex, guarded_getaddrinfo

import tocsin


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture
def builtin_plugins() -> tocsin.Plugins:
    """The built-in plugin set (no entry points), loaded once for the run and shared by every test."""
    return support.plugins.builtin_plugins()
