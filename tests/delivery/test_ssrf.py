"""SSRF policy: refused destinations fail before any connection; allow-listed ones (127.0.0.1 here) work."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address

import aiohttp
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.delivery_receiver import ConnectionSpy, Receiver, StubResolver
from yarl import URL

from tocsin import DestinationPolicy, FieldError, OutcomeKind, UnsafeDestination, make_session, post_json
from tocsin.delivery.webhook.ssrf import RefusedAddress, SafeResolver, make_connector, validate_networks

LOOPBACK = ["127.0.0.1/32"]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

REFUSED_LITERALS = [
    ("10.0.0.1", "private range 10.0.0.0/8"),
    ("172.16.5.4", "private range 172.16.0.0/12"),
    ("192.168.1.1", "private range 192.168.0.0/16"),
    ("169.254.169.254", "cloud metadata endpoint"),
    ("169.254.1.1", "link-local range 169.254.0.0/16"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.100.100.200", "cloud metadata endpoint"),
    ("127.0.0.2", "loopback range 127.0.0.0/8"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "reserved"),
    ("::ffff:127.0.0.1", "IPv4-mapped address wrapping 127.0.0.1"),
    ("::ffff:10.0.0.1", "IPv4-mapped address wrapping 10.0.0.1"),
    ("::ffff:169.254.169.254", "cloud metadata endpoint"),
    ("64:ff9b::a00:1", "NAT64 (64:ff9b::/96) address wrapping 10.0.0.1"),
    ("64:ff9b::7f00:1", "NAT64 (64:ff9b::/96) address wrapping 127.0.0.1"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("2002:0a00:0001::", "6to4 (2002::/16) address wrapping 10.0.0.1"),
    ("2002:7f00:1::1", "6to4 (2002::/16) address wrapping 127.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("::1", "loopback range ::1/128"),
    ("::", "unspecified"),
    ("::a00:1", "IPv4-compatible"),
    ("fd00:ec2::254", "cloud metadata endpoint"),
    ("fd12:3456::1", "unique local (ULA)"),
    ("fe80::1", "link-local range fe80::/10"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("4000::1", "outside IPv6 global unicast"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::1"]


@pytest.fixture
async def spy(monkeypatch):
    loop = asyncio.get_running_loop()
    connection_spy = ConnectionSpy(loop)
    monkeypatch.setattr(loop, "sock_connect", connection_spy.sock_connect)
    yield connection_spy
    assert connection_spy.outside == []  # nothing is ever dialled outside loopback


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize("allow", [[], LOOPBACK], ids=["no-allow-list", "allow-127.0.0.1"])
@pytest.mark.parametrize(("address", "why"), REFUSED_LITERALS)
def test_refused_addresses_are_refused_with_the_reason(address, why, allow):
    verdict = DestinationPolicy(allow).classify(address)
    assert not verdict.allowed
    assert why in verdict.reason
    with pytest.raises(UnsafeDestination, match="refused destination") as caught:
        DestinationPolicy(allow).check_address(address)
    assert why in caught.value.reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert DestinationPolicy().classify(address).allowed


@given(value=st.integers(0, 2**32 - 1))
def test_an_ipv4_address_we_call_public_is_global_for_the_stdlib_too(value):
    address = IPv4Address(value)
    if DestinationPolicy().classify(address).allowed:
        assert address.is_global and not address.is_multicast


@given(value=st.integers(0, 2**128 - 1) | st.integers(0x2000 << 112, (0x4000 << 112) - 1))
def test_an_ipv6_address_we_call_public_is_global_for_the_stdlib_too(value):
    address = IPv6Address(value)
    if address.ipv4_mapped is None and DestinationPolicy().classify(address).allowed:
        assert address.is_global and value >> 125 == 1


@given(value=st.integers(0, 2**32 - 1))
def test_an_ipv6_wrapper_gets_the_verdict_of_the_ipv4_address_it_carries(value):
    policy = DestinationPolicy()
    plain = policy.classify(IPv4Address(value)).allowed
    mapped = IPv6Address((0xFFFF << 32) | value)
    nat64 = IPv6Address(int(IPv6Address("64:ff9b::")) | value)
    six_to_four = IPv6Address((0x2002 << 112) | (value << 80) | 1)
    assert [policy.classify(a).allowed for a in (mapped, nat64, six_to_four)] == [plain, plain, plain]


def test_the_allow_list_opens_exactly_its_networks():
    policy = DestinationPolicy(["127.0.0.1/32", "10.1.0.0/16", "fd00:1::/32"])
    assert policy.classify("127.0.0.1").reason == "allow-listed by 127.0.0.1/32"
    assert policy.classify("10.1.200.3").allowed and policy.classify("fd00:1::5").allowed
    assert not policy.classify("127.0.0.2").allowed
    assert not policy.classify("10.2.0.1").allowed
    assert not policy.classify("::ffff:127.0.0.1").allowed  # the allow-list matches the address as dialled
    assert not policy.classify("::1").allowed


def test_metadata_endpoints_stay_refused_even_when_an_allow_list_covers_them():
    policy = DestinationPolicy(["0.0.0.0/0", "::/0"])
    assert policy.classify("10.0.0.1").allowed
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "168.63.129.16"):
        assert not policy.classify(address).allowed
        assert "metadata" in policy.classify(address).reason


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://example.com/", "scheme 'gopher' is not allowed"),
        ("https://alice:hunter2@example.com/hook", "carries credentials"),
        ("https://alice@example.com/hook", "carries credentials"),
        ("http:///no-host", "no host"),
        ("/relative/path", "scheme '(none)' is not allowed"),
        ("http://[::1", "not a valid URL"),
        ("http://10.0.0.1/hook", "private range 10.0.0.0/8"),
        ("http://[::ffff:127.0.0.1]:8080/", "IPv4-mapped"),
        ("http://127.1/", "numeric host name"),
        ("http://2130706433/", "numeric host name"),
        ("http://0x7f000001/", "numeric host name"),
        ("http://metadata.google.internal./computeMetadata/v1/", "cloud metadata host name"),
    ],
)
def test_urls_of_an_unsafe_form_are_refused(url, why):
    with pytest.raises(UnsafeDestination) as caught:
        DestinationPolicy(LOOPBACK).check_url(url)
    assert why in str(caught.value)
    assert "alice" not in str(caught.value) and "hunter2" not in str(caught.value)  # credentials never echoed


def test_safe_urls_pass_the_form_check():
    policy = DestinationPolicy(LOOPBACK)
    assert policy.check_url("https://hooks.example.com/x?y=1").host == "hooks.example.com"
    assert str(policy.check_url("http://127.0.0.1:8080/hook")) == "http://127.0.0.1:8080/hook"


def test_a_bad_allow_list_entry_is_named():
    with pytest.raises(ValueError, match=r"allow_networks\[1\]: '10.0.0.1/8' .* did you mean 10.0.0.0/8\?"):
        DestinationPolicy(["127.0.0.1/32", "10.0.0.1/8"])
    with pytest.raises(ValueError, match=r"allow_networks\[0\]: 'localhost' is not an IP network"):
        DestinationPolicy(["localhost"])


def test_validate_networks_points_at_the_entry_in_a_settings_class():
    @attrs.frozen
    class Settings:
        allow_networks: tuple[str, ...] = attrs.field(default=(), validator=validate_networks)

    assert Settings(("127.0.0.1/32",)).allow_networks == ("127.0.0.1/32",)
    with pytest.raises(FieldError) as caught:
        Settings(("127.0.0.1/32", "not-a-net"))
    assert caught.value.field == "allow_networks[1]"


@pytest.mark.parametrize("allow", [[], LOOPBACK], ids=["no-allow-list", "allow-127.0.0.1"])
@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://[2002:0a00:0001::]/hook",
        "http://100.64.0.1/hook",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
async def test_literal_ip_urls_fail_before_any_connection(url, allow, spy):
    async with make_session(allow, resolver=StubResolver({})) as session:
        outcome = await post_json(session, url, b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW)
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.status is None and "refused destination" in outcome.reason
    assert spy.dialled == []


async def test_the_connector_itself_refuses_literal_ips_that_skip_the_resolver(spy):
    # aiohttp does not pass literal IP hosts to the resolver; the check on the dialled address still runs.
    resolver = StubResolver({})
    async with make_session(LOOPBACK, resolver=resolver) as session:
        for url in ("http://10.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a00:1]/"):
            with pytest.raises(aiohttp.ClientConnectorError) as caught:
                await session.post(url, data=b"x")
            assert isinstance(caught.value.os_error, RefusedAddress)
            assert isinstance(caught.value.os_error, UnsafeDestination)
    assert resolver.asked == []
    assert spy.dialled == []


async def test_post_json_fails_a_refusal_at_dial_time_even_without_the_url_check(spy, monkeypatch):
    monkeypatch.setattr(DestinationPolicy, "check_url", lambda self, url: URL(url))
    async with make_session(LOOPBACK, resolver=StubResolver({})) as session:
        outcome = await post_json(
            session, "http://10.0.0.1/hook", b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW
        )
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.reason == "refused destination 10.0.0.1: private range 10.0.0.0/8; allow_networks can allow it"
    assert spy.dialled == []


async def test_the_dial_time_check_skips_refused_addresses_the_resolver_let_through(spy, receiver, monkeypatch):
    async def unfiltered(self, host, port=0, family=socket.AF_INET):
        return await self._inner.resolve(host, port, family)

    monkeypatch.setattr(SafeResolver, "resolve", unfiltered)
    url = receiver.script("/hook").replace("127.0.0.1", "mixed.example")
    resolver = StubResolver({"mixed.example": ["10.0.0.1", "fd00:ec2::254", "127.0.0.1"]})
    async with make_session(LOOPBACK, resolver=resolver) as session:
        outcome = await post_json(session, url, b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW)
    assert outcome.delivered
    assert [address[0] for address in spy.dialled] == ["127.0.0.1"]


async def test_a_name_resolving_to_a_refused_address_is_refused(spy):
    resolver = StubResolver({"evil.example": ["10.0.0.1"], "sneaky.example": ["::ffff:127.0.0.1", "169.254.169.254"]})
    async with make_session(LOOPBACK, resolver=resolver) as session:
        for host in ("evil.example", "sneaky.example"):
            outcome = await post_json(
                session, f"http://{host}/hook", b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW
            )
            assert outcome.kind is OutcomeKind.FAILED
            assert f"refused destination {host}: resolves only to refused addresses" in outcome.reason
    assert resolver.asked == ["evil.example", "sneaky.example"]
    assert spy.dialled == []


async def test_localhost_is_refused_unless_loopback_is_allow_listed(spy, receiver):
    url = receiver.script("/hook").replace("127.0.0.1", "localhost")
    resolver = StubResolver({"localhost": ["::1", "127.0.0.1"]})
    async with make_session([], resolver=resolver) as session:
        refused = await post_json(session, url, b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW)
    async with make_session(LOOPBACK, resolver=resolver) as session:
        allowed = await post_json(session, url, b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW)
    assert refused.kind is OutcomeKind.FAILED and "loopback" in refused.reason
    assert allowed.kind is OutcomeKind.DELIVERED
    assert [address[0] for address in spy.dialled] == ["127.0.0.1"]  # ::1 was dropped, never dialled
    assert len(receiver.on("/hook")) == 1


async def test_a_mixed_answer_dials_only_the_allowed_addresses(spy, receiver):
    url = receiver.script("/hook").replace("127.0.0.1", "mixed.example")
    resolver = StubResolver({"mixed.example": ["10.0.0.1", "169.254.169.254", "127.0.0.1"]})
    async with make_session(LOOPBACK, resolver=resolver) as session:
        outcome = await post_json(session, url, b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW)
    assert outcome.delivered
    assert [address[0] for address in spy.dialled] == ["127.0.0.1"]
    assert receiver.on("/hook")[0].headers["Host"] == f"mixed.example:{receiver.port}"


async def test_metadata_host_names_are_refused_without_asking_the_resolver(spy):
    resolver = StubResolver({"metadata.google.internal": ["127.0.0.1"]})
    async with make_session(["0.0.0.0/0"], resolver=resolver) as session:
        outcome = await post_json(
            session,
            "http://metadata.google.internal/computeMetadata/v1/",
            b"{}",
            message_id="msg_1",
            secrets=[b"k"],
            timeout=0.5,
            now=NOW,
        )
    assert outcome.kind is OutcomeKind.FAILED and "metadata" in outcome.reason
    assert resolver.asked == [] and spy.dialled == []


async def test_an_unknown_host_is_a_retryable_connection_failure(spy):
    async with make_session(LOOPBACK, resolver=StubResolver({})) as session:
        outcome = await post_json(
            session, "http://nowhere.example/hook", b"{}", message_id="msg_1", secrets=[b"k"], timeout=0.5, now=NOW
        )
    assert outcome.kind is OutcomeKind.RETRY and outcome.reason.startswith("connection failed")
    assert spy.dialled == []


async def test_post_json_insists_on_a_guarded_session():
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TypeError, match="make_session"):
            await post_json(session, "http://127.0.0.1/", b"{}", message_id="m", secrets=[b"k"], timeout=1, now=NOW)


async def test_make_connector_reports_its_policy():
    connector = make_connector(LOOPBACK, resolver=StubResolver({}))
    try:
        assert [str(net) for net in connector.policy.allow_networks] == ["127.0.0.1/32"]
    finally:
        await connector.close()
