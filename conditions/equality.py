"""Condition operators ``equals`` and ``not_equals``: JSON equality (``1 == 1.0``, ``true != 1``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from tocsin import OperatorRegistrar, hookimpl
from tocsin.values import index_key, is_number, json_equal


def _needs_value(name: str, expected: Any) -> None:
    if expected is None:
        raise ValueError(f"{name!r} needs a value to compare with (use 'exists'/'not_exists' to test presence)")


def compile_equals(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: true when ``actual`` equals ``expected``; false on a missing field or another type."""
    _needs_value("equals", expected)
    if isinstance(expected, bool):
        return lambda actual, expected=expected: actual is expected
    if isinstance(expected, str):
        text = str.__str__(expected)
        return lambda actual, text=text: actual == text
    if is_number(expected):
        number = expected
        return lambda actual, number=number: actual == number and is_number(actual)
    return lambda actual, expected=expected: json_equal(actual, expected)


def compile_not_equals(expected: Any) -> Callable[[Any], bool]:
    """The exact negation of ``equals`` (so a missing field is "not equal")."""
    _needs_value("not_equals", expected)
    test = compile_equals(expected)
    return lambda actual, test=test: not test(actual)


def equals_keys(expected: Any) -> tuple[Hashable, ...] | None:
    """The one index key ``equals`` accepts (None for lists and mappings, which are not indexed)."""
    key = index_key(expected)
    return None if key is None else (key,)


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register ``equals`` (indexable) and ``not_equals``."""
    register("equals", compile_equals, keys=equals_keys)
    register("not_equals", compile_not_equals)
