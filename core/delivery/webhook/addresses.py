"""Special-use IP ranges: which addresses are not ordinary public Internet hosts, and why.

The tables behind the SSRF policy (:mod:`tocsin.delivery.webhook.ssrf`), kept as integer ranges so that
classifying an address is a handful of integer comparisons. IPv6 addresses that carry an IPv4 address
(IPv4-mapped, NAT64 and 6to4) are judged by the address they carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

__all__ = ["METADATA_HOSTS", "IPAddress", "IPNetwork", "is_metadata_endpoint", "special_use"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Ranges as (first, last, description) integers: classifying an address is a few integer comparisons.
_Range = tuple[int, int, str]


def _ranges(table: Iterable[tuple[IPNetwork, str]]) -> tuple[_Range, ...]:
    return tuple((int(net.network_address), int(net.broadcast_address), f"{what} range {net}") for net, what in table)


_V4_REFUSED = _ranges(
    (IPv4Network(net), what)
    for net, what in (
        ("0.0.0.0/8", "'this network' (unspecified)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (incl. broadcast)"),
    )
)
_V6_REFUSED = _ranges(
    (IPv6Network(net), what)
    for net, what in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo tunnel"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique local (ULA)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)
_MAPPED_PREFIX = 0xFFFF  # ::ffff:0:0/96, the top 96 bits
_NAT64_PREFIX = int(IPv6Address("64:ff9b::")) >> 32  # 64:ff9b::/96
_SIX_TO_FOUR_PREFIX = 0x2002  # 2002::/16, the IPv4 address in the next 32 bits
_METADATA = [
    ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server (a public address)
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::23",  # AWS EKS pod identity, IPv6
        "fd20:ce::254",  # GCP IPv6
    )
]
_METADATA_V4 = frozenset(int(address) for address in _METADATA if address.version == 4)
_METADATA_V6 = frozenset(int(address) for address in _METADATA if address.version == 6)
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)


def _find(value: int, ranges: tuple[_Range, ...]) -> str | None:
    for first, last, what in ranges:
        if first <= value <= last:
            return what
    return None


def _wrapped_v4(value: int) -> tuple[int, str] | None:
    """The IPv4 address (as an integer) inside an IPv4-mapped, NAT64 or 6to4 address, and which kind it is."""
    if value >> 32 == _MAPPED_PREFIX:
        return value & 0xFFFFFFFF, "IPv4-mapped address"
    if value >> 32 == _NAT64_PREFIX:
        return value & 0xFFFFFFFF, "NAT64 (64:ff9b::/96) address"
    if value >> 112 == _SIX_TO_FOUR_PREFIX:
        return (value >> 80) & 0xFFFFFFFF, "6to4 (2002::/16) address"
    return None


def is_metadata_endpoint(address: IPAddress) -> bool:
    """True for a cloud metadata service address, also when wrapped in IPv6 (``::ffff:169.254.169.254``)."""
    value = int(address)
    if address.version == 4:
        return value in _METADATA_V4
    wrapped = _wrapped_v4(value)
    return value in _METADATA_V6 or (wrapped is not None and wrapped[0] in _METADATA_V4)


def special_use(address: IPAddress) -> str | None:
    """Why ``address`` is not an ordinary public address (e.g. ``"private range 10.0.0.0/8"``), or None."""
    value = int(address)
    if address.version == 4:
        return _find(value, _V4_REFUSED)
    wrapped = _wrapped_v4(value)
    if wrapped is not None:
        inner, kind = wrapped
        why = _find(inner, _V4_REFUSED)
        return None if why is None else f"{kind} wrapping {IPv4Address(inner)} ({why})"
    why = _find(value, _V6_REFUSED)
    if why is None and value >> 125 != 1:  # not in 2000::/3
        return "reserved: outside IPv6 global unicast 2000::/3"
    return why
