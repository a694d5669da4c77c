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

        def is_flag(actual: Any, expected: bool = expected) -> bool:
            return actual is expected

        return is_flag
    if isinstance(expected, str):
        text = str.__str__(expected)

        def is_text(actual: object, text: str = text) -> bool:
            return actual == text

        return is_text
    if is_number(expected):
        number = expected

        def is_equal_number(actual: Any, number: Any = number) -> bool:
            return actual == number and is_number(actual)

        return is_equal_number

    def is_json_equal(actual: Any, expected: Any = expected) -> bool:
        return json_equal(actual, expected)

    return is_json_equal


def compile_not_equals(expected: Any) -> Callable[[Any], bool]:
    """The exact negation of ``equals`` (so a missing field is "not equal")."""
    _needs_value("not_equals", expected)
    test = compile_equals(expected)

    def is_not_equal(actual: Any, test: Callable[[Any], bool] = test) -> bool:
        return not test(actual)

    return is_not_equal


def equals_keys(expected: Any) -> tuple[Hashable, ...] | None:
    """The one index key ``equals`` accepts (None for lists and mappings, which are not indexed)."""
    key = index_key(expected)
    return None if key is None else (key,)


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register ``equals`` (indexable) and ``not_equals``."""
    register("equals", compile_equals, keys=equals_keys)
    register("not_equals", compile_not_equals)
