"""attrs validators shared by the models, the settings sections and the plugins: one wording per rule.

Each raises :class:`tocsin.FieldError` naming the field, so the config loader reports it at its path
(``tocsin.yaml: $.delivery.max_attempts: must be 1 or more, got 0``). Use them in a plugin's attrs classes::

    from tocsin.validators import between, http_url

    @attrs.frozen(kw_only=True)
    class PagerTarget:
        type: ClassVar[str] = "pager"
        url: str = attrs.field(validator=http_url)
        retries: int = attrs.field(default=3, validator=between(0, 10))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import attrs

from tocsin.errors import FieldError

__all__ = [
    "at_least",
    "between",
    "duration",
    "http_url",
    "listen_port",
    "non_empty",
    "parse_duration",
    "port",
    "positive",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def between(low: int, high: int) -> Validator:
    """The value lies in ``low..high`` (both included)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise FieldError(attribute.name, f"must be between {low} and {high}, got {value}")

    return check


def at_least(low: int) -> Validator:
    """The value is ``low`` or more; None (an optional field left out) passes."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is not None and value < low:
            raise FieldError(attribute.name, f"must be {low} or more, got {value}")

    return check


def positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """The value is greater than 0; None (an optional field left out) passes."""
    if value is not None and not value > 0:
        raise FieldError(attribute.name, f"must be greater than 0, got {value}")


def port(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """A TCP port to connect to: 1-65535."""
    if not 0 < value < 65536:
        raise FieldError(attribute.name, f"must be a TCP port (1-65535), got {value}")


def listen_port(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """A TCP port to listen on: 0-65535, where 0 lets the system pick a free one."""
    if not 0 <= value < 65536:
        raise FieldError(attribute.name, f"must be a TCP port (0-65535; 0 picks a free one), got {value}")


def non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Sized) -> None:
    """A string, list or mapping with something in it (an id, the users of a layer)."""
    if not value:
        raise FieldError(attribute.name, "must not be empty")


def http_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An absolute ``http://`` or ``https://`` URL with a host and no credentials in it (a ``user:pass@`` would
    end up in logs, delivery results and the API; send secrets in headers instead)."""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError(attribute.name, f"needs an http:// or https:// URL, got {value!r}")
    if "@" in parts.netloc:
        shown = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
        raise FieldError(
            attribute.name, f"must not carry credentials (user:password@), got {shown!r}; send them in headers"
        )


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``"7m"`` -> 7 minutes; ``<number>(s|m|h|d)``. Raises ``ValueError`` saying what was expected."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a duration such as 30s, 7m, 2h or 1d, got {value!r}")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:
        raise ValueError(f"{value!r} is longer than any duration tocsin keeps") from None


def duration(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """A duration written ``<number>(s|m|h|d)`` (``30s``, ``25h``) that is longer than nothing."""
    try:
        length = parse_duration(value)
    except ValueError as exc:
        raise FieldError(attribute.name, str(exc)) from None
    if length <= timedelta(0):
        raise FieldError(attribute.name, f"must be longer than nothing, got {value!r}")
