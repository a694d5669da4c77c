"""Notification delivery: channels resolved to senders, the outbox that records every page and hands it to its
channel, the page payload, and retry timing. The webhook toolkit is in :mod:`tocsin.delivery.webhook`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.delivery.channels import ChannelError, ChannelSet, Sender
    from tocsin.delivery.outbox import MemorySink, Outbox
    from tocsin.delivery.payload import PAYLOAD_VERSION, page_payload, page_subject, page_text
    from tocsin.delivery.retry import RetryPolicy, parse_retry_after
    from tocsin.delivery.settings import DeliverySettings
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.delivery.channels": ("ChannelError", "ChannelSet", "Sender"),
            "tocsin.delivery.outbox": ("MemorySink", "Outbox"),
            "tocsin.delivery.payload": ("PAYLOAD_VERSION", "page_payload", "page_subject", "page_text"),
            "tocsin.delivery.retry": ("RetryPolicy", "parse_retry_after"),
            "tocsin.delivery.settings": ("DeliverySettings",),
        },
    )

__all__ = [
    "PAYLOAD_VERSION",
    "ChannelError",
    "ChannelSet",
    "DeliverySettings",
    "MemorySink",
    "Outbox",
    "RetryPolicy",
    "Sender",
    "page_payload",
    "page_subject",
    "page_text",
    "parse_retry_after",
]
