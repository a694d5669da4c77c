"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts, and reading links out of them."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://[^\s\"'<>]+/(?:v1|ui)/links/[\w.-]+")


class Mailbox:
    """An aiosmtpd handler keeping every message it accepted; ``port`` once started."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages addressed to ``address``."""
        return [message for message in self.messages if message["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A mailbox behind a real SMTP server on an ephemeral port of 127.0.0.1, stopped on exit."""
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def text_part(message: EmailMessage, subtype: str = "plain") -> str:
    """The message's text/``subtype`` body."""
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def links_in(text: str) -> dict[str, str]:
    """The action links in a page's plain text, by their label (``Acknowledge: https://...``)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, _, rest = line.strip().partition(": ")
        match = LINK.fullmatch(rest.strip())
        if match:
            found[label] = match.group(0)
    return found
