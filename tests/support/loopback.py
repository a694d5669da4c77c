"""The loopback guard: a name lookup or a connection anywhere but this machine fails the test that made it."""

from __future__ import annotations

import ipaddress
import socket

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: object) -> bool:
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class OutsideTrafficError(AssertionError):
    """A test tried to reach something other than this machine's loopback."""


def guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise OutsideTrafficError(f"test tried to resolve {host!r}: tests may only reach 127.0.0.1")
    return _real_getaddrinfo(host, *args, **kwargs)


def _address_host(address: object) -> object:
    return address[0] if isinstance(address, tuple) else None


def guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        raise OutsideTrafficError(f"test tried to connect to {address!r}: tests may only reach 127.0.0.1")
    return _real_connect(self, address)


def guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        raise OutsideTrafficError(f"test tried to connect to {address!r}: tests may only reach 127.0.0.1")
    return _real_connect_ex(self, address)
