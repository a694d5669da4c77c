"""Condition operators ``in`` and ``not_in``: the field's value is (not) one of a list of values."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from tocsin import OperatorRegistrar, hookimpl
from tocsin.values import index_key, json_equal


def _members(name: str, expected: Any) -> tuple[frozenset[Hashable], tuple[Any, ...]]:
    if not isinstance(expected, (list, tuple)):
        raise ValueError(f"{name!r} needs a list, got {expected!r}")
    keys: set[Hashable] = set()
    others: list[Any] = []
    for item in expected:
        key = index_key(item)
        if key is None:
            others.append(item)
        else:
            keys.add(key)
    return frozenset(keys), tuple(others)


def compile_in(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: ``actual`` equals one of the listed values (JSON equality); false when missing."""
    keys, others = _members("in", expected)

    def test(actual: Any, keys: frozenset[Hashable] = keys, others: tuple[Any, ...] = others) -> bool:
        if type(actual) is str:
            return actual in keys
        key = index_key(actual)
        return key in keys if key is not None else any(json_equal(actual, item) for item in others)

    return test


def compile_not_in(expected: Any) -> Callable[[Any], bool]:
    """The exact negation of ``in`` (a missing field is "not in")."""
    _members("not_in", expected)
    test = compile_in(expected)
    return lambda actual: not test(actual)


def in_keys(expected: Any) -> frozenset[Hashable] | None:
    """The index keys of the listed values; None when one of them (a list, null) has no key."""
    keys, others = _members("in", expected)
    return None if others else keys


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register ``in`` (indexable) and ``not_in``."""
    register("in", compile_in, keys=in_keys)
    register("not_in", compile_not_in)
