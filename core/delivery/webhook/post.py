"""One webhook delivery attempt: a signed JSON POST, and what its result means for the next step.

``post_json`` never raises for anything the receiver or the network does; it returns a ``WebhookOutcome``:

- ``delivered``: a 2xx answer;
- ``retry``: 5xx, 408, 429, a timeout or a connection error (``retry_after`` set when a 429/503 said when);
- ``gone``: 410, the receiver wants no more messages: disable the endpoint;
- ``failed``: any other answer (3xx redirects are not followed; other 4xx) or a destination the SSRF policy
  refuses; retrying will not help.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

import aiohttp
import attrs
from aiohttp.abc import AbstractResolver

from tocsin.delivery.retry import parse_retry_after
from tocsin.delivery.urls import redact_url, scrub
from tocsin.delivery.webhook.addresses import IPNetwork
from tocsin.delivery.webhook.connector import GuardedConnector, make_connector
from tocsin.delivery.webhook.signing import Secret, message_headers, webhook_headers
from tocsin.delivery.webhook.ssrf import UnsafeDestination
from tocsin.models import DeliveryResult

__all__ = ["LoopSession", "OutcomeKind", "WebhookOutcome", "make_session", "post_json", "redact_url"]

USER_AGENT = "tocsin-webhooks"
_RETRY_STATUSES = frozenset({408, 429})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_MAX_REASON = 200


class OutcomeKind(enum.StrEnum):
    """What to do after an attempt: nothing more, try again later, disable the endpoint, or give up."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class WebhookOutcome:
    """The result of one attempt: its kind, the HTTP status (None without an answer) and a short reason."""

    kind: OutcomeKind
    reason: str
    status: int | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait (429/503 with Retry-After)

    @property
    def delivered(self) -> bool:
        """True when the receiver accepted the message (2xx)."""
        return self.kind is OutcomeKind.DELIVERED

    @property
    def retryable(self) -> bool:
        """True when another attempt may succeed."""
        return self.kind is OutcomeKind.RETRY

    def result(self, key: str, url: str) -> DeliveryResult:
        """The outcome as the outbox records it for the message ``key`` POSTed to ``url`` (shown without its
        credentials when the request got no answer)."""
        detail = self.reason if self.status is not None else f"POST {redact_url(url)} failed: {self.reason}"
        return DeliveryResult(
            key=key,
            ok=self.delivered,
            detail=detail,
            retryable=self.retryable,
            retry_after=self.retry_after,
            gone=self.kind is OutcomeKind.GONE,
        )


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _classify(status: int, phrase: str, headers: Mapping[str, str], now: datetime, cap: float) -> WebhookOutcome:
    reason = f"HTTP {status} {phrase}".rstrip()
    if 200 <= status < 300:
        return WebhookOutcome(kind=OutcomeKind.DELIVERED, status=status, reason=reason)
    if status == 410:
        return WebhookOutcome(kind=OutcomeKind.GONE, status=status, reason=f"{reason}: the endpoint is gone")
    if status >= 500 or status in _RETRY_STATUSES:
        wait = (
            parse_retry_after(headers.get("Retry-After"), now=now, cap=cap) if status in _RETRY_AFTER_STATUSES else None
        )
        return WebhookOutcome(kind=OutcomeKind.RETRY, status=status, reason=reason, retry_after=wait)
    if 300 <= status < 400:
        where = headers.get("Location")
        reason += f": redirect to {_short(where)} not followed" if where else ": redirects are not followed"
    return WebhookOutcome(kind=OutcomeKind.FAILED, status=status, reason=_short(reason))


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    payload_bytes: bytes,
    *,
    message_id: str,
    secrets: Secret | Iterable[Secret] | None,
    timeout: float,
    now: datetime,
    max_retry_after: float = 3600.0,
    headers: Mapping[str, str] | None = None,
) -> WebhookOutcome:
    """POST ``payload_bytes`` (JSON) to ``url`` once, signed per Standard Webhooks, and classify the result.

    ``session`` must come from ``make_session`` (its connector enforces the SSRF policy). ``message_id`` is the
    ``webhook-id``: keep it the same on every retry of one message, so receivers can drop duplicates.
    ``now`` stamps ``webhook-timestamp`` and dates a ``Retry-After``; ``timeout`` (seconds) bounds the whole
    attempt; ``max_retry_after`` caps the wait a receiver may ask for. ``headers`` are sent too (they cannot
    replace the ``webhook-*`` or ``content-type`` headers). ``secrets=None`` sends the message unsigned (no
    ``webhook-signature``); an empty list, a bad secret or a bad message id raises ``ValueError`` (a
    configuration mistake, not a delivery outcome).
    """
    outcome = await _post(session, url, payload_bytes, message_id, secrets, timeout, now, max_retry_after, headers)
    return attrs.evolve(outcome, reason=scrub(outcome.reason, url))  # never a password in a delivery result


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    payload_bytes: bytes,
    message_id: str,
    secrets: Secret | Iterable[Secret] | None,
    timeout: float,
    now: datetime,
    max_retry_after: float,
    headers: Mapping[str, str] | None,
) -> WebhookOutcome:
    connector = session.connector
    if not isinstance(connector, GuardedConnector):
        raise TypeError("post_json needs a session from make_session(): its connector enforces the SSRF policy")
    if secrets is None:
        signed = message_headers(message_id, now)
    else:
        signed = webhook_headers(secrets, message_id, now, payload_bytes)
    extra = {
        name: value
        for name, value in (headers or {}).items()
        if name.lower() != "content-type" and not name.lower().startswith("webhook-")
    }
    headers = {**extra, "content-type": "application/json", **signed}
    try:
        target = connector.policy.check_url(url)
        async with session.post(
            target,
            data=payload_bytes,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return _classify(response.status, response.reason or "", response.headers, now, max_retry_after)
    except UnsafeDestination as exc:
        return WebhookOutcome(kind=OutcomeKind.FAILED, reason=_short(str(exc)))
    except TimeoutError:
        return WebhookOutcome(kind=OutcomeKind.RETRY, reason=f"no answer within {timeout:g}s")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, UnsafeDestination):  # refused by the connector at the moment of dialling
            return WebhookOutcome(kind=OutcomeKind.FAILED, reason=_short(str(exc.os_error)))
        return WebhookOutcome(kind=OutcomeKind.RETRY, reason=_short(f"connection failed: {exc}"))
    except aiohttp.InvalidURL as exc:
        return WebhookOutcome(kind=OutcomeKind.FAILED, reason=_short(f"invalid URL: {exc}"))
    except (aiohttp.ClientError, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        return WebhookOutcome(kind=OutcomeKind.RETRY, reason=_short(f"connection failed: {detail}"))


def make_session(
    allow_networks: Iterable[str | IPNetwork] = (),
    *,
    resolver: AbstractResolver | None = None,
    limit: int = 100,
    limit_per_host: int = 8,
    user_agent: str = USER_AGENT,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` for webhooks: SSRF-checked connections, no proxy from the environment, no
    cookies kept. ``limit_per_host`` keeps one slow receiver from taking every connection. Call it inside a
    running event loop and close the session when done (``async with make_session(...) as session``)."""
    connector = make_connector(allow_networks, resolver=resolver, limit=limit, limit_per_host=limit_per_host)
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"user-agent": user_agent},
    )


class LoopSession:
    """A :func:`make_session` session for whichever event loop is running: opened on first use, opened anew in
    another loop (a session belongs to one loop), closed by :meth:`aclose`."""

    def __init__(self, allow_networks: Iterable[str | IPNetwork] = ()) -> None:
        self._allow_networks = tuple(allow_networks)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session of the running loop (call it inside one)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = make_session(self._allow_networks)
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session if it belongs to the running loop; forget it either way."""
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
