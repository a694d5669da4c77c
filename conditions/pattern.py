"""Condition operator ``matches``: an unanchored regular-expression search with the ``regex`` module.

The pattern compiles once, when the rule loads. Each search is bounded: it reads at most
``MAX_INPUT_CHARS`` characters of the value and raises ``TimeoutError`` after ``TIMEOUT_SECONDS``; the
evaluator counts that as no match and logs it once per rule, so a catastrophic pattern never stalls it.

A bounded search has a fixed cost of a few microseconds, so when every match must contain a run of plain
characters (``" on db-"`` in ``"disk (full|error) on db-\\d+"``), a value without that run is rejected by a
substring test first. The run is only taken from what is certain: no alternation at the top level, no
inline flags, nothing inside groups or classes, nothing optional.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

from tocsin import OperatorRegistrar, hookimpl

MAX_PATTERN_CHARS = 4096
MAX_INPUT_CHARS = 65536
TIMEOUT_SECONDS = 0.05
MIN_LITERAL_CHARS = 3

_PLAIN = frozenset(string.ascii_letters + string.digits + " _-:/,=@#%!;<>~&'\"")
_ESCAPED_SELF = frozenset(string.punctuation + " ")
_INLINE_FLAGS = re.compile(r"\(\?[A-Za-z0-9^-]*\)")


def compile_matches(expected: Any) -> Callable[[Any], bool]:
    """``test(actual)``: ``actual`` is a string in which the pattern is found (``regex.search``)."""
    import regex  # loaded with the first pattern: checking a config without one never loads it

    if not isinstance(expected, str):
        raise ValueError(f"'matches' needs a regular expression (a string), got {expected!r}")
    if len(expected) > MAX_PATTERN_CHARS:
        raise ValueError(f"'matches' pattern is {len(expected)} characters long; the limit is {MAX_PATTERN_CHARS}")
    try:
        search = regex.compile(expected).search
    except (regex.error, ValueError, OverflowError) as exc:
        raise ValueError(f"'matches' needs a valid regular expression: {exc} in {expected!r}") from None
    # search(string, pos, endpos, concurrent, partial, timeout), positionally: keywords cost ~0.5 µs a call.
    limit, timeout = MAX_INPUT_CHARS, TIMEOUT_SECONDS
    literal = required_literal(expected)
    if literal is None:

        def test(actual: Any) -> bool:
            if not isinstance(actual, str):
                return False
            return search(actual, 0, limit, None, False, timeout) is not None

        return test

    def test_with_literal(actual: Any, literal: str = literal, search: Any = search) -> bool:
        if not isinstance(actual, str) or literal not in actual:
            return False
        return search(actual, 0, limit, None, False, timeout) is not None

    return test_with_literal


def required_literal(pattern: str) -> str | None:
    """The longest run of plain characters that every match of ``pattern`` contains, or None when unsure.

    Conservative by construction: anything it does not fully understand ends a run or gives None.
    """
    if _INLINE_FLAGS.search(pattern):
        return None  # (?i), (?x), (?V1)… may change how every character matches
    runs: list[str] = []
    current: list[str] = []
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following and following in _ESCAPED_SELF:
                literal, index = following, index + 2
            else:  # \d, \b, \1, \p{…}, \N{…}: not one plain character
                runs.append("".join(current))
                current.clear()
                index = _skip_escape(pattern, index)
                continue
        elif char in _PLAIN:
            literal, index = char, index + 1
        else:
            if char == "|":
                return None
            end = _skip(pattern, index)
            if end is None:
                return None
            runs.append("".join(current))
            current.clear()
            index = end
            continue
        if index < size and pattern[index] in "?*{":
            runs.append("".join(current))  # an optional or counted character is not required as written
            current.clear()
            continue
        current.append(literal)
        if index < size and pattern[index] == "+":
            runs.append("".join(current))
            current.clear()
    runs.append("".join(current))
    best = max(runs, key=len)
    return best if len(best) >= MIN_LITERAL_CHARS else None


def _skip_escape(pattern: str, index: int) -> int:
    index += 2
    if index < len(pattern) and pattern[index] in "{<":
        close = pattern.find("}" if pattern[index] == "{" else ">", index)
        return len(pattern) if close < 0 else close + 1
    return index


def _skip(pattern: str, index: int) -> int | None:
    """Where the construct at ``index`` (a group, a class, a ``{…}``, any other metacharacter) ends."""
    char = pattern[index]
    if char == "(":
        return _skip_group(pattern, index)
    if char == "[":
        return _skip_class(pattern, index)
    if char == "{":
        close = pattern.find("}", index)
        return index + 1 if close < 0 else close + 1
    return index + 1


def _skip_group(pattern: str, index: int) -> int | None:
    depth = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            end = _skip_class(pattern, index)
            if end is None:
                return None
            index = end
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _skip_class(pattern: str, index: int) -> int | None:
    index += 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":  # a nested set or [:alpha:]: its end is later still
            end = _skip_class(pattern, index)
            if end is None:
                return None
            index = end
            continue
        if char == "]":
            return index + 1
        index += 1
    return None


@hookimpl
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register ``matches``; it costs more than the others, so rules test it after them."""
    register("matches", compile_matches, cost=8, slow=True)
