"""JSON text for what tocsin writes often: API answers, stored documents and log lines, compact and in UTF-8.

orjson writes them (several times faster than the standard library, which matters on the ingest path: an
incident's answer, its rows and its audit lines are all JSON). What orjson refuses is written by the standard
library instead, exactly as before: an integer beyond 64 bits (an incident's free ``payload`` may hold one) and
a string with a lone surrogate. Both writers give compact JSON of the same value; only a float's spelling may
differ (``1e16`` against ``1e+16``), which every JSON reader reads alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "dumps_bytes"]

# {1: ...} is written {"1": ...}, as the standard library writes it; a date-time or a dataclass goes to
# ``default`` (or is refused), as there, instead of being written in orjson's own way.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps_bytes(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` (plain data: dicts, lists, strings, numbers, booleans, None) as compact UTF-8 JSON. ``default``
    turns what JSON has no form for into what it has (as ``json.dumps``'s ``default``); without it such a value
    is a ``TypeError``. A lone surrogate, which UTF-8 cannot carry, is written as JSON's ``\\ud800`` escape."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        pass  # an integer beyond 64 bits, or a lone surrogate: the standard library writes both
    try:
        return _standard(default)(value).encode("utf-8")
    except UnicodeEncodeError:
        return json.JSONEncoder(separators=(",", ":"), default=default).encode(value).encode("ascii")


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as compact JSON text (see :func:`dumps_bytes`); a lone surrogate stays in the text as it is."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:
        return _standard(default)(value)


def _standard(default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    if default is None:
        return _STANDARD
    return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=default).encode
