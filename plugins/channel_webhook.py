"""Webhook channel ``{type: webhook, url}``: POST the versioned JSON payload; 2xx means delivered.

Settings (``channels: {webhook: {timeout_seconds: 10, headers: {...}}}``) are optional. The payload is
``tocsin.page_payload`` (``"version": 1``); the request also carries an ``Idempotency-Key`` header with the
notification's key. A webhook *target* reaches this channel with the URL as the recipient's address.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import attrs

from tocsin import ChannelRegistrar, DeliveryResult, FieldError, Notification, hookimpl, page_payload


def _http_url(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldError(attribute.name, f"needs an http:// or https:// URL, got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise FieldError(attribute.name, f"must be more than 0, got {value}")


@attrs.frozen(kw_only=True)
class WebhookContact:
    """Reach a person (or a ``notify`` channel) by POSTing to ``url``."""

    type: ClassVar[str] = "webhook"
    url: str = attrs.field(validator=_http_url)
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """How every webhook request is made."""

    timeout_seconds: float = attrs.field(default=10.0, validator=_positive)
    headers: dict[str, str] = attrs.field(factory=dict)


class WebhookSender:
    """POSTs pages with one shared HTTP session (opened on first use, closed by ``aclose``)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """POST the payload; ``ok`` only for a 2xx answer."""
        contact = notification.recipient.contact
        url = contact.url if isinstance(contact, WebhookContact) else notification.recipient.address
        headers = {
            **self._settings.headers,
            **(contact.headers if isinstance(contact, WebhookContact) else {}),
            "Content-Type": "application/json",
            "Idempotency-Key": notification.key,
        }
        body = json.dumps(page_payload(notification), ensure_ascii=False).encode("utf-8")
        timeout = self._settings.timeout_seconds
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(trust_env=False)  # a session belongs to one event loop
            self._loop = loop
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
            ) as response:
                detail = f"HTTP {response.status} {response.reason or ''}".rstrip()
                return DeliveryResult(key=notification.key, ok=200 <= response.status < 300, detail=detail)
        except TimeoutError:
            return DeliveryResult(key=notification.key, ok=False, detail=f"no answer from {url} within {timeout:g}s")
        except (aiohttp.ClientError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            return DeliveryResult(key=notification.key, ok=False, detail=f"POST {url} failed: {reason}")

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None


def create(settings: WebhookSettings) -> WebhookSender:
    """A sender with ``settings``."""
    return WebhookSender(settings)


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``webhook``."""
    register(WebhookContact, create=create, settings=WebhookSettings)
