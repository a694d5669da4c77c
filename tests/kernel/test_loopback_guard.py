"""The suite's loopback guard (conftest.py) refuses anything but 127.0.0.1, before any packet leaves."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from support.loopback import OutsideTrafficError


def test_resolving_a_public_name_is_refused():
    with pytest.raises(OutsideTrafficError):
        socket.getaddrinfo("hooks.example.com", 443)


def test_connecting_to_a_non_loopback_address_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OutsideTrafficError):
        sock.connect(("192.0.2.1", 9))


async def test_an_aiohttp_request_to_a_public_host_is_refused():
    async with aiohttp.ClientSession() as session:
        with pytest.raises((OutsideTrafficError, aiohttp.ClientError)):
            await session.get("http://hooks.example.com/")


def test_loopback_is_allowed():
    assert socket.getaddrinfo("127.0.0.1", 80)
