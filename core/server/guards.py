"""What hostile input is stopped by before it costs the server: nesting deeper than any real document, strings
that cannot be written as UTF-8 (lone surrogates), numbers JSON cannot write back (``1e999`` reads as
infinity), and instants at the edges of the calendar. Each check is linear in the input and never recursive."""

from __future__ import annotations

import collections.abc
import functools
import math
import re
import typing
from array import array
from datetime import datetime
from itertools import accumulate
from typing import Any

import attrs

__all__ = [
    "FIRST_YEAR",
    "INSTANT_PATTERN",
    "LAST_YEAR",
    "MAX_DEPTH",
    "QUERY_INSTANT_PATTERN",
    "instant_faults",
    "is_text",
    "json_number",
    "lone_surrogate_path",
    "nests_deeper_than",
    "parse_instant",
]

MAX_DEPTH = 64  # arrays and objects inside each other; real alert payloads nest fewer than ten deep
FIRST_YEAR, LAST_YEAR = 1900, 2999  # of a date-time a request names, as written: far inside what datetime can add to


def _date_time(year: str, leap_year: str, *, query: bool) -> str:
    """An ISO 8601 date-time as a regular expression (ECMA 262 and Python alike) that only a real calendar date
    and time match: days past the end of their month, hour 24, second 60 or an offset of a day do not. In a
    query the seconds and the offset may be left out; a body's date-time is RFC 3339 (seconds and offset)."""
    month_day = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    hour_minute = "(?:[01][0-9]|2[0-3]):[0-5][0-9]"
    seconds = "(?::[0-5][0-9](?:[.][0-9]{1,6})?)"
    offset = f"(?:Z|[+-]{hour_minute})"
    date = f"(?:{year}-{month_day}|{leap_year}-02-29)"
    return f"^{date}T{hour_minute}{seconds}?{offset}?$" if query else f"^{date}T{hour_minute}{seconds}{offset}$"


_YEAR = "(?:19|2[0-9])[0-9]{2}"  # FIRST_YEAR to LAST_YEAR
_LEAP_YEAR = "(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2[048]00)"
INSTANT_PATTERN = _date_time(_YEAR, _LEAP_YEAR, query=False)  # a body's date-time (the OpenAPI document says so)
QUERY_INSTANT_PATTERN = _date_time(_YEAR, _LEAP_YEAR, query=True)  # a query's; without an offset: local time
_INSTANT = re.compile(INSTANT_PATTERN)
_QUERY_INSTANT = re.compile(QUERY_INSTANT_PATTERN)
_ANY_YEAR = "[0-9]{4}"  # the same shapes in any year, to tell a year out of range from what is not a date-time
_INSTANT_SHAPE = re.compile(_date_time(_ANY_YEAR, _ANY_YEAR, query=False))
_QUERY_INSTANT_SHAPE = re.compile(_date_time(_ANY_YEAR, _ANY_YEAR, query=True))

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_EXACT = 2**53  # the integers a float holds exactly
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # an opening bracket +1, a closing one -1 (signed bytes)
_CHUNK = 65536


def nests_deeper_than(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep in the JSON text ``raw`` (brackets inside
    strings do not count). Linear in ``len(raw)`` and done by bytes methods, never a loop over characters in
    Python nor a regular expression that could backtrack: a body of 1 MB takes tens of milliseconds at most
    (parsing it takes longer), a body with few brackets next to nothing.

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


def json_number(text: str) -> float | int:
    """``text``, a JSON number with a fraction or an exponent: the integer it equals when it is one (``4534.0``
    is 4534, as JSON Schema's ``integer`` says), else a float. ``ValueError`` when it is too large for a float
    (``1e999``): Python would read it as infinity, which JSON cannot write back."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large (at most about 1.8e308)")
    if value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    return value


def parse_instant(text: str, *, query: bool = False) -> datetime:
    """The date-time ``text`` names, in the shape :data:`INSTANT_PATTERN` (a body's) or
    :data:`QUERY_INSTANT_PATTERN` (a query's: naive when it has no offset) allows; else a ``ValueError`` saying
    what is wrong, the year's range (:data:`FIRST_YEAR` to :data:`LAST_YEAR`) included."""
    if (_QUERY_INSTANT if query else _INSTANT).fullmatch(text):
        return datetime.fromisoformat(text)
    example = "2026-03-08T09:00:00Z" if query else "2026-03-08T09:00:00+01:00"
    if (_QUERY_INSTANT_SHAPE if query else _INSTANT_SHAPE).fullmatch(text):
        try:
            datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not a date-time: {exc}; got {text!r}") from None
        raise ValueError(f"the year must be {FIRST_YEAR} to {LAST_YEAR}, got {text}")
    shape = "" if query else " with seconds and a UTC offset"
    raise ValueError(f"expected an ISO 8601 date-time{shape} such as {example}, got {text!r}")


def instant_faults(value: Any, document: Any, path: str = "$") -> list[tuple[str, str]]:
    """``(path, message)`` for every date-time in ``value`` — an attrs object structured from the JSON
    ``document``, and the attrs objects, lists and tuples it holds — whose text in ``document`` is not one
    :func:`parse_instant` takes (the structuring accepted a wider ISO 8601, any year)."""
    faults: list[tuple[str, str]] = []
    pending: list[tuple[str, Any, Any]] = [(path, value, document)]
    while pending:
        where, item, written = pending.pop()
        if isinstance(item, datetime):
            try:
                parse_instant(written if isinstance(written, str) else item.isoformat())
            except ValueError as exc:
                faults.append((where, str(exc)))
        elif attrs.has(type(item)):
            raw = written if isinstance(written, dict) else {}
            kind: Any = type(item)  # (mypy takes attrs.has for a guard that makes it unhashable)
            for name in reversed(_instant_fields(kind)):
                pending.append((f"{where}.{name}", getattr(item, name), raw.get(name)))
        elif isinstance(item, (list, tuple)):
            raw_items = written if isinstance(written, list) and len(written) == len(item) else [None] * len(item)
            pending.extend(reversed([(f"{where}[{n}]", member, raw_items[n]) for n, member in enumerate(item)]))
    return faults


@functools.cache
def _instant_fields(cls: Any) -> tuple[str, ...]:
    """The fields of the attrs class ``cls`` whose type may hold a date-time (the others need no look)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a type that cannot be resolved here: look at every field
        return tuple(field.name for field in attrs.fields(cls))
    return tuple(field.name for field in attrs.fields(cls) if _may_hold_instant(hints.get(field.name, Any), set()))


def _may_hold_instant(kind: Any, seen: set[type]) -> bool:
    if kind is datetime or kind is Any:
        return True
    if isinstance(kind, type) and attrs.has(kind):
        if kind in seen:
            return False
        seen.add(kind)
        try:
            hints = typing.get_type_hints(kind)
        except Exception:
            return True
        return any(_may_hold_instant(hints.get(field.name, Any), seen) for field in attrs.fields(kind))
    origin = typing.get_origin(kind)
    if origin is None:
        return False  # str, int, an enum: never a date-time
    if origin in (dict, collections.abc.Mapping):
        return False  # the guard looks into lists and attrs objects, not mappings
    return any(_may_hold_instant(arg, seen) for arg in typing.get_args(kind) if arg is not Ellipsis)
