"""Outgoing-request safety (SSRF): which addresses a webhook may reach, checked on the address actually dialled.

Private, loopback, link-local, shared (CGNAT), multicast, reserved and documentation ranges are refused, and so
are IPv6 addresses that wrap a refused IPv4 address (IPv4-mapped, NAT64, 6to4) or tunnel to an unknown one
(Teredo, IPv4-compatible, local-use NAT64). ``allow_networks`` reopens chosen networks (tests allow
``127.0.0.1/32``); cloud metadata endpoints stay refused whatever the allow-list says.

The check runs three times on the way to a socket: on the URL (scheme, credentials, literal or numeric hosts,
metadata host names), on every address the resolver returns (refused ones are dropped; nothing left is an
error), and on the address handed to ``connect()`` — aiohttp does not resolve a literal IP host, so this last
check is what covers ``http://10.0.0.1/`` and friends. The last two are :mod:`tocsin.delivery.webhook.connector`,
the half of the guard that needs aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING, Any

import attrs

from tocsin._lazy import attach
from tocsin.delivery.webhook.addresses import METADATA_HOSTS, IPAddress, IPNetwork, is_metadata_endpoint, special_use
from tocsin.errors import TocsinError
from tocsin.models import FieldError

if TYPE_CHECKING:
    from yarl import URL

__all__ = [
    "DestinationPolicy",
    "RefusedAddress",
    "UnsafeDestination",
    "Verdict",
    "parse_networks",
    "validate_networks",
]

if not TYPE_CHECKING:
    # The aiohttp half (the checking resolver, socket factory and connector) is in .connector, so that checking
    # an allow-list in a config (validate_networks) does not load aiohttp; its names still import from here.
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.delivery.webhook.connector": (
                "GuardedConnector",
                "SafeResolver",
                "guarded_socket_factory",
                "make_connector",
            )
        },
    )


class UnsafeDestination(TocsinError):
    """A destination refused by the SSRF policy: ``destination`` names it, ``reason`` says why."""

    def __init__(self, destination: str, reason: str) -> None:
        self.destination = destination
        self.reason = reason
        super().__init__(f"refused destination {destination}: {reason}")


class RefusedAddress(UnsafeDestination, OSError):
    """An address refused at the moment of dialling. Being an ``OSError``, it makes the connection attempt skip
    that address and try the next one; aiohttp reports it as ``ClientConnectorError`` with it as ``os_error``."""


@attrs.frozen
class Verdict:
    """Whether ``address`` may be dialled, and why (e.g. ``"private range 10.0.0.0/8; allow_networks can …"``)."""

    address: IPAddress
    allowed: bool
    reason: str


def parse_networks(entries: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Parse allow-list entries (``"127.0.0.1/32"``, ``"fd00::/8"``, a bare address); a ``ValueError`` names
    the bad one by its index."""
    networks = []
    for index, entry in enumerate(entries):
        if isinstance(entry, (IPv4Network, IPv6Network)):
            networks.append(entry)
            continue
        try:
            networks.append(ip_network(entry, strict=True))
        except (TypeError, ValueError) as exc:
            hint = ""
            if isinstance(entry, str) and "has host bits set" in str(exc):
                hint = f"; did you mean {ip_network(entry, strict=False)}?"
            raise ValueError(f"[{index}]: {entry!r} is not an IP network such as 127.0.0.1/32 ({exc}){hint}") from None
    return tuple(networks)


def validate_networks(instance: Any, attribute: attrs.Attribute[Any], value: Iterable[str]) -> None:
    """An attrs validator for a settings field holding an allow-list: the fault names the bad entry's index."""
    try:
        parse_networks(value)
    except ValueError as exc:
        index, _, message = str(exc).partition(": ")
        raise FieldError(f"{attribute.name}{index}", message) from None


class DestinationPolicy:
    """The SSRF policy: refused ranges, minus the networks in ``allow_networks``, minus metadata endpoints."""

    __slots__ = ("_allowed", "allow_networks")

    def __init__(self, allow_networks: Iterable[str | IPNetwork] = ()) -> None:
        try:
            self.allow_networks: tuple[IPNetwork, ...] = parse_networks(allow_networks)
        except ValueError as exc:
            raise ValueError(f"allow_networks{exc}") from None
        self._allowed = tuple(
            (net.version, int(net.network_address), int(net.broadcast_address), net) for net in self.allow_networks
        )

    def __repr__(self) -> str:
        return f"DestinationPolicy(allow_networks={[str(net) for net in self.allow_networks]})"

    def classify(self, address: str | IPAddress) -> Verdict:
        """Decide on one IP address (``ValueError`` if it is not one)."""
        ip = ip_address(address) if isinstance(address, str) else address
        version, value = ip.version, int(ip)  # for the allow-list's integer ranges
        if is_metadata_endpoint(ip):
            return Verdict(ip, False, "cloud metadata endpoint (never allowed)")
        for net_version, first, last, net in self._allowed:
            if net_version == version and first <= value <= last:
                return Verdict(ip, True, f"allow-listed by {net}")
        why = special_use(ip)
        if why is not None:
            return Verdict(ip, False, f"{why}; allow_networks can allow it")
        return Verdict(ip, True, "public address")

    def check_address(self, address: str | IPAddress) -> IPAddress:
        """Return ``address`` parsed if it may be dialled; raise ``UnsafeDestination`` otherwise."""
        try:
            verdict = self.classify(address)
        except ValueError:
            raise UnsafeDestination(str(address), "not an IP address") from None
        if not verdict.allowed:
            raise UnsafeDestination(str(verdict.address), verdict.reason)
        return verdict.address

    def check_host(self, host: str) -> None:
        """Refuse a host by its name alone: refused literal IPs, numeric names, metadata names."""
        name = host.strip().rstrip(".").lower()
        try:
            literal = ip_address(name.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check_address(literal)
            return
        last = name.rsplit(".", 1)[-1]
        if last.isdigit() or last.startswith("0x"):
            raise UnsafeDestination(host, "numeric host name that is not a canonical IP address")
        if name in METADATA_HOSTS:
            raise UnsafeDestination(host, "cloud metadata host name (never allowed)")

    def check_url(self, url: str | URL) -> URL:
        """Return ``url`` parsed if its form is safe: http(s), a host, no credentials, no refused literal host.

        Host names are checked again on every address they resolve to, when the connection is made.
        """
        from yarl import URL  # aiohttp's URL type, needed only here

        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (TypeError, ValueError) as exc:
            raise UnsafeDestination(repr(str(url)[:80]), f"not a valid URL ({exc})") from None
        scheme = parsed.scheme.lower()
        shown = f"{scheme}://{parsed.raw_host}" if parsed.raw_host else f"{scheme or 'relative'} URL without a host"
        if scheme not in ("http", "https"):
            raise UnsafeDestination(shown, f"scheme {scheme or '(none)'!r} is not allowed; use http or https")
        if not parsed.raw_host:
            raise UnsafeDestination(shown, "the URL has no host")
        if parsed.user is not None or parsed.password is not None:
            raise UnsafeDestination(shown, "the URL carries credentials (user:password@); put secrets elsewhere")
        self.check_host(parsed.raw_host)
        return parsed
