"""Condition operators ``exists`` and ``not_exists``: whether the incident has the field at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tocsin import MISSING, OperatorRegistrar, hookimpl


def compile_exists(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: the field is present (any value, even an empty string)."""
    return lambda actual: actual is not MISSING


def compile_not_exists(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: the field is absent (a label that is not set, a jmespath that finds nothing)."""
    return lambda actual: actual is MISSING


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register ``exists`` and ``not_exists``; neither takes a value."""
    register("exists", compile_exists, takes_value=False)
    register("not_exists", compile_not_exists, takes_value=False)
