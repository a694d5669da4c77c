"""Webhook channel ``{type: webhook, url}``: a signed POST of the versioned JSON payload, per Standard Webhooks.

Settings (``channels: {webhook: {secrets: [...], allow_networks: [...], timeout_seconds: 10, headers: {...}}}``)
are optional. Each request carries ``webhook-id`` (a stable, header-safe hash of the notification's key:
the same on every retry and after a restart, so receivers drop duplicates by it; also sent as
``Idempotency-Key``), ``webhook-timestamp`` and, when ``secrets`` are set, ``webhook-signature`` (one ``v1``
HMAC-SHA256 per secret, for rotation). Only 2xx is delivered; redirects are not followed; 5xx, 408, 429 and
network faults are retried by the outbox (``Retry-After`` honoured); 410 disables the endpoint; other
answers and refused destinations (SSRF: private, loopback, metadata addresses unless in ``allow_networks``)
are permanent. A webhook *target* reaches this channel with the URL as the recipient's address.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import attrs

from tocsin import (
    ChannelRegistrar,
    DeliveryResult,
    Notification,
    Urgency,
    hookimpl,
    page_payload,
    urgencies_field,
)
from tocsin.delivery.webhook.signing import validate_secrets, webhook_id
from tocsin.delivery.webhook.ssrf import validate_networks
from tocsin.logs import get_logger
from tocsin.validators import http_url, positive

if TYPE_CHECKING:
    import aiohttp

    from tocsin.delivery.webhook.post import LoopSession

_log = get_logger(component="webhook")


@attrs.frozen(kw_only=True)
class WebhookContact:
    """Reach a person (or a ``notify`` channel) by POSTing to ``url``; ``secrets`` replace the channel's."""

    type: ClassVar[str] = "webhook"
    url: str = attrs.field(validator=http_url)
    headers: dict[str, str] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = attrs.field(default=(), validator=validate_secrets)
    urgencies: tuple[Urgency, ...] = urgencies_field()  # the page urgencies this contact takes


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """How every webhook request is made: signing secrets (``whsec_<base64>``; several while rotating), the
    networks allowed despite the SSRF policy, the timeout of one attempt, and extra headers."""

    timeout_seconds: float = attrs.field(default=10.0, validator=positive)
    headers: dict[str, str] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = attrs.field(default=(), validator=validate_secrets)
    allow_networks: tuple[str, ...] = attrs.field(default=(), validator=validate_networks)


class WebhookSender:
    """POSTs pages through one SSRF-guarded session, opened by ``start()`` and closed by ``close()`` (the
    outbox awaits both), and kept for the sender's life: connections to a receiver are reused across pages.

    aiohttp (and asyncio) are imported when the sender starts: a command that only reads the config never
    loads them.
    """

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._sessions: LoopSession | None = None
        if not settings.secrets:
            _log.warning("webhooks are sent unsigned: set channels.webhook.secrets to sign them")

    def endpoint(self, notification: Notification) -> str:
        """The URL the notification is POSTed to."""
        contact = notification.recipient.contact
        return contact.url if isinstance(contact, WebhookContact) else notification.recipient.address

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """POST the payload once; the result says whether to retry, give up, or disable the endpoint."""
        from tocsin.delivery.webhook.post import post_json

        contact = notification.recipient.contact
        own = contact if isinstance(contact, WebhookContact) else None
        url = self.endpoint(notification)
        settings = self._settings
        message_id = webhook_id(notification.key)
        headers = {**settings.headers, **(own.headers if own else {}), "Idempotency-Key": message_id}
        secrets = (own.secrets if own and own.secrets else settings.secrets) or None
        body = json.dumps(page_payload(notification), ensure_ascii=False).encode("utf-8")
        outcome = await post_json(
            self._open(),
            url,
            body,
            message_id=message_id,
            secrets=secrets,
            timeout=settings.timeout_seconds,
            now=datetime.now(UTC),  # receivers check the signature's timestamp against their real clock
            headers=headers,
        )
        return outcome.result(notification.key, url)

    def _open(self) -> aiohttp.ClientSession:
        from tocsin.delivery.webhook.post import LoopSession

        if self._sessions is None:
            self._sessions = LoopSession(self._settings.allow_networks)
        return self._sessions.get()

    async def start(self) -> None:
        """Open the HTTP session."""
        self._open()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._sessions is not None:
            await self._sessions.aclose()


def create(settings: WebhookSettings) -> WebhookSender:
    """A sender with ``settings``."""
    return WebhookSender(settings)


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``webhook``."""
    register(WebhookContact, create=create, settings=WebhookSettings)
