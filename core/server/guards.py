"""What hostile input is stopped by before it costs the server: nesting deeper than any real document, strings
that cannot be written as UTF-8 (lone surrogates), and instants at the edges of the calendar. Each check is
linear in the input and never recursive beyond the depth it allows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["EARLIEST", "LATEST", "MAX_DEPTH", "check_instant", "lone_surrogate_path", "nesting_depth"]

MAX_DEPTH = 64  # arrays and objects inside each other; real alert payloads nest fewer than ten deep
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # instants a request may name; well inside what datetime can add to
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def nesting_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in the JSON text ``raw`` (brackets inside strings do not count); stops
    counting once past ``limit`` (returns ``limit + 1``)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def lone_surrogate_path(raw: bytes, document: Any) -> str | None:
    """The JSONPath of the first string (or object key) in ``document`` that holds a lone surrogate such as
    ``"\\ud800"`` — valid JSON, but not text: it cannot be stored or logged as UTF-8. None when there is none.
    ``raw`` is the text ``document`` was parsed from (a cheap look at it usually rules the walk out)."""
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    for path, text in _strings(document, "$"):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return path
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key.encode('utf-8', 'backslashreplace').decode()}", key
            yield from _strings(item, f"{path}.{key.encode('utf-8', 'backslashreplace').decode()}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def check_instant(value: datetime) -> datetime:
    """``value`` if it lies between :data:`EARLIEST` and :data:`LATEST` (a naive value is read as UTC); else a
    ``ValueError`` that says the range."""
    try:
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        inside = EARLIEST <= moment.astimezone(UTC) < LATEST
    except (OverflowError, ValueError):
        inside = False
    if not inside:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), got {value.isoformat()}")
    return value
