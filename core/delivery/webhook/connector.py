"""The aiohttp half of the SSRF guard (:mod:`tocsin.delivery.webhook.ssrf`): a resolver that drops refused
addresses, a socket factory that checks the address actually dialled, and the connector that uses both.

:mod:`.ssrf` gives these names too, importing this module when one is first asked for.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import TCPConnector
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from tocsin.delivery.webhook.addresses import IPNetwork
from tocsin.delivery.webhook.ssrf import DestinationPolicy, RefusedAddress, UnsafeDestination

__all__ = ["GuardedConnector", "SafeResolver", "guarded_socket_factory", "make_connector"]

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


class SafeResolver(AbstractResolver):
    """A resolver that checks every answer: refused addresses are dropped; none left raises ``UnsafeDestination``."""

    def __init__(self, policy: DestinationPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = resolver if resolver is not None else DefaultResolver()
        self._owns_inner = resolver is None
        self._closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` with the wrapped resolver and keep only the addresses the policy allows."""
        self.policy.check_host(host)
        answers = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refused: list[str] = []
        for answer in answers:
            try:
                verdict = self.policy.classify(answer["host"])
            except ValueError:
                refused.append(f"{answer['host']!r} (not an IP address)")
                continue
            if verdict.allowed:
                kept.append(answer)
            else:
                refused.append(f"{verdict.address} ({verdict.reason})")
        if not kept:
            raise UnsafeDestination(host, "resolves only to refused addresses: " + "; ".join(refused))
        return kept

    async def close(self) -> None:
        """Close the wrapped resolver if this one created it."""
        if self._owns_inner and not self._closed:
            self._closed = True
            await self._inner.close()


def guarded_socket_factory(policy: DestinationPolicy) -> Callable[[AddrInfo], socket.socket]:
    """A ``socket_factory`` for ``aiohttp.TCPConnector``: checks the address about to be dialled, then opens it."""

    def open_socket(addr_info: AddrInfo) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        try:
            policy.check_address(str(sockaddr[0]))
        except UnsafeDestination as exc:
            raise RefusedAddress(exc.destination, exc.reason) from None
        return socket.socket(family=family, type=kind, proto=proto)

    return open_socket


class GuardedConnector(TCPConnector):
    """A ``TCPConnector`` that dials only what ``policy`` allows, whether the host is a name or a literal IP."""

    def __init__(self, policy: DestinationPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any) -> None:
        self.policy = policy
        self._safe_resolver = SafeResolver(policy, resolver)
        super().__init__(resolver=self._safe_resolver, socket_factory=guarded_socket_factory(policy), **kwargs)

    async def close(self, *, abort_ssl: bool = False) -> None:
        """Close the connections, then the resolver."""
        try:
            await super().close(abort_ssl=abort_ssl)
        finally:
            await self._safe_resolver.close()


def make_connector(
    allow_networks: Iterable[str | IPNetwork] = (), *, resolver: AbstractResolver | None = None, **kwargs: Any
) -> GuardedConnector:
    """A ``GuardedConnector`` for ``allow_networks``; ``resolver`` replaces DNS (tests inject a stub), ``kwargs`` go
    to ``aiohttp.TCPConnector``. Call it inside a running event loop."""
    return GuardedConnector(DestinationPolicy(allow_networks), resolver=resolver, **kwargs)
