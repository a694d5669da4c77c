"""How condition values compare: the JSON semantics shared by operators, the rule index and explain.

A field's value is JSON-like: a string, a number, true/false, null, a list or a mapping (``tocsin.MISSING``
when the incident has no such field). Numbers compare as numbers (``1 == 1.0``) and never equal a boolean;
a string never equals a number; lists and mappings compare element by element with the same rules.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from typing import Any, cast

from tocsin.registry import MISSING

__all__ = ["index_key", "is_number", "json_equal", "to_jsonable"]

_BOOL_KEYS: dict[bool, tuple[str, bool]] = {True: ("bool", True), False: ("bool", False)}


def is_number(value: Any) -> bool:
    """True for ints and floats (and their subclasses), never for ``True``/``False``."""
    kind = type(value)
    return kind is int or kind is float or (kind is not bool and isinstance(value, (int, float)))


def json_equal(left: Any, right: Any) -> bool:
    """Equality with JSON semantics: ``1 == 1.0``, ``True != 1``, ``"1" != 1``, lists and mappings deep."""
    if left is MISSING or right is MISSING:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if is_number(left) or is_number(right):
        return is_number(left) and is_number(right) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, (list, tuple)):
        return (
            isinstance(right, (list, tuple))
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, Mapping):
        return (
            isinstance(right, Mapping)
            and left.keys() == right.keys()
            and all(json_equal(value, right[key]) for key, value in left.items())
        )
    return bool(left == right)


def index_key(value: Any) -> Hashable | None:
    """The key under which the rule index files ``value``, or None when it cannot be indexed.

    Two values get the same key exactly when :func:`json_equal` says they are equal scalars: strings by
    their text (a ``str`` subclass such as an enum member by its text too), numbers by value (``1`` and
    ``1.0`` share a key), booleans apart from numbers. Lists, mappings, null, NaN and ``MISSING`` have no key.
    """
    kind = type(value)
    if kind is str:
        return cast(str, value)  # mypy does not narrow ``value`` through ``kind``
    if kind is int:
        return cast(int, value)
    if kind is float:
        return value if value == value else None
    if kind is bool:
        return _BOOL_KEYS[value]
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if value == value else None
    return None


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (tuples as lists, enums by value, times in ISO 8601, MISSING as None)."""
    if value is MISSING:
        return None
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    return repr(value)
