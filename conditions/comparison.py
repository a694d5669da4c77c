"""Condition operators comparing numbers: greater_than, less_than, greater_or_equal, less_or_equal.

The rule's value must be a number; an incident value that is not a number (a string, true/false, a missing
field) makes every comparison false.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from tocsin import OperatorRegistrar, hookimpl
from tocsin.values import is_number


def _comparison(name: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any], Callable[[Any], bool]]:
    def compile_comparison(expected: Any) -> Callable[[Any], bool]:
        if not is_number(expected) or math.isnan(expected):
            raise ValueError(f"{name!r} needs a number, got {expected!r}")
        return lambda actual: is_number(actual) and compare(actual, expected)

    compile_comparison.__doc__ = f"``test(actual)``: ``actual`` is a number and {name.replace('_', ' ')} the value."
    return compile_comparison


compile_greater_than = _comparison("greater_than", operator.gt)
compile_less_than = _comparison("less_than", operator.lt)
compile_greater_or_equal = _comparison("greater_or_equal", operator.ge)
compile_less_or_equal = _comparison("less_or_equal", operator.le)


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register the four numeric comparisons."""
    register("greater_than", compile_greater_than)
    register("less_than", compile_less_than)
    register("greater_or_equal", compile_greater_or_equal)
    register("less_or_equal", compile_less_or_equal)
