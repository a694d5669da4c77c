"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 over "id.timestamp.body">``.

A sender signs each message with every active secret (several during a rotation) and sends the three headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``; a receiver accepts the message when any ``v1``
signature matches any of its secrets and the timestamp is recent. Secrets are written ``whsec_<base64>`` as the
specification defines them, or given as raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from tocsin.errors import FieldError, TocsinError

__all__ = [
    "SECRET_PREFIX",
    "InvalidSignature",
    "Secret",
    "message_headers",
    "secret_bytes",
    "sign",
    "signature_header",
    "validate_secrets",
    "verify",
    "webhook_headers",
    "webhook_id",
]

SECRET_PREFIX = "whsec_"
Secret = str | bytes  # "whsec_<base64>" or the raw key
DEFAULT_TOLERANCE = timedelta(minutes=5)


class InvalidSignature(TocsinError):
    """A received webhook's headers are missing or malformed, its timestamp is stale, or no signature matches."""


def secret_bytes(secret: Secret) -> bytes:
    """The raw HMAC key of ``secret``; a ``ValueError`` (which never repeats the secret) if it is malformed."""
    if isinstance(secret, bytes):
        if not secret:
            raise ValueError("a webhook secret must not be empty")
        return secret
    if not isinstance(secret, str):
        raise TypeError(f"a webhook secret is a 'whsec_<base64>' string or bytes, got {type(secret).__name__}")
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret string must look like 'whsec_<base64>' (or pass the raw key as bytes)")
    text = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret's part after 'whsec_' must be base64") from None
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def validate_secrets(instance: Any, attribute: attrs.Attribute[Any], value: Iterable[Secret]) -> None:
    """An attrs validator for a settings field holding signing secrets: the fault names the bad entry's index
    (and never repeats the secret)."""
    for index, secret in enumerate(value):
        try:
            secret_bytes(secret)
        except (TypeError, ValueError) as exc:
            raise FieldError(f"{attribute.name}[{index}]", str(exc)) from None


def webhook_id(key: str) -> str:
    """The ``webhook-id`` of the message with idempotency key ``key``: ``msg_`` and 32 hex digits of its SHA-256
    (the same on every retry and after a restart, and free of the characters the specification forbids)."""
    return "msg_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _unix_seconds(timestamp: datetime | int) -> int:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError(f"a webhook timestamp needs a time zone, got {timestamp.isoformat()}")
        return math.floor(timestamp.timestamp())
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"a webhook timestamp is an aware datetime or Unix seconds, got {timestamp!r}")
    return timestamp


def _check_id(msg_id: str) -> str:
    if not msg_id or any(ch in msg_id for ch in "\r\n\0 ,"):
        raise ValueError(f"a webhook id must be non-empty without spaces, commas or line breaks, got {msg_id!r}")
    return msg_id


def _body_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _digest(key: bytes, msg_id: str, seconds: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{seconds}.".encode() + body, hashlib.sha256).digest()


def sign(secret: Secret, msg_id: str, timestamp: datetime | int, body: bytes | str) -> str:
    """One signature, ``v1,<base64>``: HMAC-SHA256 with ``secret`` over ``msg_id.timestamp.body``."""
    key = secret_bytes(secret)
    digest = _digest(key, _check_id(msg_id), _unix_seconds(timestamp), _body_bytes(body))
    return "v1," + base64.b64encode(digest).decode("ascii")


def _secret_list(secrets: Secret | Iterable[Secret]) -> list[Secret]:
    listed = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
    if not listed:
        raise ValueError("at least one webhook secret is needed to sign a message")
    return listed


def signature_header(
    secrets: Secret | Iterable[Secret], msg_id: str, timestamp: datetime | int, body: bytes | str
) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated (for key rotation)."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in _secret_list(secrets))


def message_headers(msg_id: str, timestamp: datetime | int) -> dict[str, str]:
    """The ``webhook-id`` and ``webhook-timestamp`` headers alone: an unsigned message."""
    return {"webhook-id": _check_id(msg_id), "webhook-timestamp": str(_unix_seconds(timestamp))}


def webhook_headers(
    secrets: Secret | Iterable[Secret], msg_id: str, timestamp: datetime | int, body: bytes | str
) -> dict[str, str]:
    """The three Standard Webhooks headers for one message: ``webhook-id``, ``-timestamp`` and ``-signature``."""
    return {
        "webhook-id": _check_id(msg_id),
        "webhook-timestamp": str(_unix_seconds(timestamp)),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise InvalidSignature(f"missing header {name!r}")


def verify(
    secrets: Secret | Iterable[Secret],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Check a received webhook; raise ``InvalidSignature`` saying why it is not authentic.

    ``headers`` are the request's headers (any case); ``body`` the raw body as received. The message passes when
    its timestamp is within ``tolerance`` of ``now`` (default: the current time) and one of its ``v1`` signatures
    matches one of ``secrets``. Signatures of other versions are ignored.
    """
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp").strip()
    signatures = _header(headers, "webhook-signature")
    if not raw_timestamp.isdigit():
        raise InvalidSignature(f"webhook-timestamp must be Unix seconds, got {raw_timestamp!r}")
    seconds = int(raw_timestamp)
    instant = datetime.now(UTC) if now is None else now
    age = instant.timestamp() - seconds
    if abs(age) > tolerance.total_seconds():
        when = "old" if age > 0 else "far in the future"
        raise InvalidSignature(f"webhook-timestamp {seconds} is too {when} (tolerance {tolerance})")
    payload = _body_bytes(body)
    expected = [_digest(secret_bytes(secret), msg_id, seconds, payload) for secret in _secret_list(secrets)]
    for token in signatures.split():
        version, _, encoded = token.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, digest) for digest in expected):
            return
    raise InvalidSignature(f"no v1 signature of webhook {msg_id!r} matches a known secret")
