"""Condition operators on text: contains, not_contains, starts_with, ends_with.

``contains`` looks for a substring in a string field and for a member in a list field (``assignees``);
``starts_with``/``ends_with`` need a string on both sides. A field of another type, or a missing one,
makes the positive operators false and their ``not_`` forms true.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tocsin import OperatorRegistrar, hookimpl
from tocsin.values import is_number, json_equal


def compile_contains(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: substring of a string, or member (JSON equality) of a list."""
    if isinstance(expected, str):
        text = str.__str__(expected)

        def test_text(actual: Any) -> bool:
            if isinstance(actual, str):
                return text in actual
            return isinstance(actual, (list, tuple)) and text in actual

        return test_text
    if isinstance(expected, bool) or is_number(expected):
        return lambda actual: isinstance(actual, (list, tuple)) and any(json_equal(item, expected) for item in actual)
    raise ValueError(f"'contains' needs a string (or one value to find in a list), got {expected!r}")


def compile_not_contains(expected: Any) -> Callable[[Any], bool]:
    """The exact negation of ``contains``."""
    try:
        test = compile_contains(expected)
    except ValueError:
        raise ValueError(f"'not_contains' needs a string (or one value to find in a list), got {expected!r}") from None
    return lambda actual: not test(actual)


def _text_operator(name: str, method: Callable[[str, str], bool]) -> Callable[[Any], Callable[[Any], bool]]:
    def compile_text(expected: Any) -> Callable[[Any], bool]:
        if not isinstance(expected, str):
            raise ValueError(f"{name!r} needs a string, got {expected!r}")
        text = str.__str__(expected)
        return lambda actual: isinstance(actual, str) and method(actual, text)

    compile_text.__doc__ = f"``test(actual)``: ``actual`` is a string that {name.replace('_', ' ')} the value."
    return compile_text


compile_starts_with = _text_operator("starts_with", str.startswith)
compile_ends_with = _text_operator("ends_with", str.endswith)


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register contains, not_contains, starts_with and ends_with."""
    register("contains", compile_contains)
    register("not_contains", compile_not_contains)
    register("starts_with", compile_starts_with)
    register("ends_with", compile_ends_with)
