"""What hostile input is stopped by before it costs the server: nesting deeper than any real document, strings
that cannot be written as UTF-8 (lone surrogates), numbers JSON cannot write back (``1e999`` reads as
infinity), and instants at the edges of the calendar. Each check is linear in the input and never recursive."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import attrs

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DEPTH",
    "check_instant",
    "finite_number",
    "instant_faults",
    "is_text",
    "lone_surrogate_path",
    "nests_deeper_than",
]

MAX_DEPTH = 64  # arrays and objects inside each other; real alert payloads nest fewer than ten deep
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # instants a request may name; well inside what datetime can add to
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # an opening bracket +1, a closing one -1 (signed bytes)
_CHUNK = 65536


def nests_deeper_than(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep in the JSON text ``raw`` (brackets inside
    strings do not count). Linear in ``len(raw)`` and done by bytes methods, never a loop over characters in
    Python nor a regular expression that could backtrack: a 1 MB body takes milliseconds.

    Text that is not JSON gets an answer too: the depth its brackets reach before the first place where it
    stops being JSON is counted exactly, so a parser that fails there never went deeper than this says."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    steps = _outside_strings(raw).translate(_STEPS, _NOT_BRACKETS)
    if steps.count(1) <= limit:
        return False
    depth = 0
    for start in range(0, len(steps), _CHUNK):
        running = list(accumulate(array("b", steps[start : start + _CHUNK]), initial=depth))
        if max(running) > limit:
            return True
        depth = running[-1]
    return False


def _outside_strings(raw: bytes) -> bytes:
    """``raw`` without its JSON strings. Escapes go first (an escaped backslash, then an escaped quote), so
    every quote left opens or closes a string and splitting on quotes alternates outside, inside, outside."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(raw.split(b'"')[::2])


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8: it holds no lone surrogate such as ``"\\ud800"``."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_path(raw: bytes, document: Any) -> str | None:
    """The JSONPath of the first string (or object key) in ``document`` that holds a lone surrogate such as
    ``"\\ud800"`` — valid JSON, but not text: it cannot be stored or logged as UTF-8. None when there is none.
    ``raw`` is the text ``document`` was parsed from (a cheap look at it usually rules the walk out)."""
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    pending: list[tuple[str, Any]] = [("$", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if not is_text(value):
                return path
        elif isinstance(value, dict):
            items = []
            for key, item in value.items():
                where = f"{path}.{key.encode('utf-8', 'backslashreplace').decode()}"
                if not is_text(key):
                    return where
                items.append((where, item))
            pending.extend(reversed(items))
        elif isinstance(value, list):
            pending.extend(reversed([(f"{path}[{index}]", item) for index, item in enumerate(value)]))
    return None


def finite_number(text: str) -> float:
    """``text`` (a JSON number with a fraction or an exponent) as a float; ``ValueError`` when it is too large
    to be one (``1e999``): Python would read it as infinity, which JSON cannot write back."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large (at most about 1.8e308)")
    return value


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


def instant_faults(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """``(path, message)`` for every date-time in ``value`` — an attrs object as structured from a request
    body, and the attrs objects, lists and tuples it holds — that :func:`check_instant` refuses."""
    faults: list[tuple[str, str]] = []
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, datetime):
            try:
                check_instant(item)
            except ValueError as exc:
                faults.append((where, str(exc)))
        elif attrs.has(type(item)):
            fields = attrs.fields(type(item))
            pending.extend(reversed([(f"{where}.{field.name}", getattr(item, field.name)) for field in fields]))
        elif isinstance(item, (list, tuple)):
            pending.extend(reversed([(f"{where}[{index}]", member) for index, member in enumerate(item)]))
    return faults
