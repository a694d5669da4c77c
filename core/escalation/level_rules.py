"""Smart escalation levels, compiled once: ``when``, ``delay_counts_during``, ``round_robin`` and ``ack_mode``.

A level that uses none of them compiles to None, and the engine's plain path never looks further. One that
does compiles to :class:`LevelRules`: its ``when`` conditions through the routing rule compiler (the same
operators and field extractors, each closure built once), its working-hours windows resolved by name, and
its round-robin step in microseconds. :func:`check_levels` is the config check that reports what would stop
a level from compiling, with the path of each fault.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tocsin.errors import TocsinError
from tocsin.escalation.working_hours import WorkingWindow
from tocsin.instants import MICROS_PER_MINUTE
from tocsin.models import AckMode, EscalationLevel, EscalationPolicy, Incident
from tocsin.registry import MISSING, Registry
from tocsin.routing.compile import CompileMemo, ConditionSet, RuleError, compile_conditions

__all__ = ["LevelError", "LevelRules", "check_levels", "compile_level_rules", "is_plain"]


class LevelError(TocsinError, ValueError):
    """A smart level that cannot be compiled; ``issues`` lists each fault as ``(path, message)``."""

    def __init__(self, issues: Iterable[tuple[str, str]]) -> None:
        self.issues: tuple[tuple[str, str], ...] = tuple(issues)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.issues))


class LevelRules:
    """What a smart level adds to the plain timing: a gate, a window-counted delay, round robin, ack mode."""

    __slots__ = ("ack_all", "conditions", "counted", "during", "outside", "rotate_after")

    def __init__(
        self,
        *,
        conditions: ConditionSet | None = None,
        during: WorkingWindow | None = None,
        outside: WorkingWindow | None = None,
        counted: WorkingWindow | None = None,
        rotate_after: int = 0,
        ack_all: bool = False,
    ) -> None:
        self.conditions = conditions
        self.during = during
        self.outside = outside
        self.counted = counted  # the window the level's delay counts in (None: plain minutes)
        self.rotate_after = rotate_after  # round robin: microseconds before moving on (0: no round robin)
        self.ack_all = ack_all

    def skip_reason(self, incident: Incident, due: int) -> str | None:
        """Why the level does not run when it is due at ``due`` (microseconds) for ``incident``; None: it runs.

        Windows are looked at first, then the conditions; a condition that fails to evaluate (a pattern that
        times out) counts as false, as it does in routing.
        """
        during = self.during
        if during is not None and not during.contains(due):
            return f"due {during.describe(due)}: outside working hours {during.name!r}"
        outside = self.outside
        if outside is not None and outside.contains(due):
            return f"due {outside.describe(due)}: inside working hours {outside.name!r}"
        conditions = self.conditions
        if conditions is None:
            return None
        try:
            holds = conditions.predicate(incident)
        except Exception as exc:
            return f"when: a condition could not be evaluated ({type(exc).__name__}: {exc}); counts as false"
        return None if holds else f"when: {_first_false(conditions, incident)}"


def _show(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if isinstance(value, enum.Enum):
        value = value.value
    return repr(value)


def _first_false(conditions: ConditionSet, incident: Incident) -> str:
    for result in conditions.explain(incident):
        if not result.result:
            expected = "" if result.expected is None else f" {_show(result.expected)}"
            return f"{result.field} {result.operator}{expected} is false ({result.field} is {_show(result.value)})"
    return "the conditions are false"


def is_plain(level: EscalationLevel) -> bool:
    """True when ``level`` uses none of the smart features (it then compiles to None)."""
    return (
        level.when is None
        and level.delay_counts_during is None
        and level.round_robin is None
        and level.ack_mode is AckMode.FIRST
    )


def _window_refs(level: EscalationLevel) -> Iterator[tuple[str, str]]:
    if level.when is not None:
        if level.when.during is not None:
            yield "when.during", level.when.during
        if level.when.outside is not None:
            yield "when.outside", level.when.outside
    if level.delay_counts_during is not None:
        yield "delay_counts_during", level.delay_counts_during


def _unknown_window(name: str, known: Iterable[str]) -> str:
    names = ", ".join(sorted(known))
    if not names:
        return f"unknown working-hours window {name!r}: there is no working_hours section"
    return f"unknown working-hours window {name!r}; known: {names}"


def compile_level_rules(
    level: EscalationLevel,
    registry: Registry,
    windows: Mapping[str, WorkingWindow],
    *,
    path: str = "level",
    memo: CompileMemo | None = None,
) -> LevelRules | None:
    """Compile ``level``'s smart features; None for a plain level.

    :param windows: the compiled working-hours windows, by name.
    :raises LevelError: an unknown window name or a condition that does not compile, with paths under ``path``.
    """
    if is_plain(level):
        return None
    issues: list[tuple[str, str]] = []
    found: dict[str, WorkingWindow] = {}
    for where, name in _window_refs(level):
        window = windows.get(name)
        if window is None:
            issues.append((f"{path}.{where}", _unknown_window(name, windows)))
        else:
            found[where] = window
    conditions = None
    if level.when is not None and level.when.conditions:
        try:
            conditions = compile_conditions(level.when.conditions, registry, path=f"{path}.when.conditions", memo=memo)
        except RuleError as exc:
            issues.extend(exc.issues)
    if issues:
        raise LevelError(issues)
    rotate = level.round_robin.rotate_after_minutes * MICROS_PER_MINUTE if level.round_robin is not None else 0
    return LevelRules(
        conditions=conditions,
        during=found.get("when.during"),
        outside=found.get("when.outside"),
        counted=found.get("delay_counts_during"),
        rotate_after=rotate,
        ack_all=level.ack_mode is AckMode.ALL,
    )


def check_levels(
    policies: Sequence[EscalationPolicy], working_hours: Mapping[str, object], registry: Registry
) -> Iterator[tuple[str, str]]:
    """Config check of the policies' levels: every working-hours window a level names exists (a key of
    ``working_hours``), and every ``when`` condition compiles exactly as the engine will compile it (unknown
    fields and operators, values checked per operator)."""
    memo: CompileMemo = {}
    for p, policy in enumerate(policies):
        for index, level in enumerate(policy.levels):
            path = f"$.policies[{p}].levels[{index}]"
            for where, name in _window_refs(level):
                if name not in working_hours:
                    yield f"{path}.{where}", _unknown_window(name, working_hours)
            if level.when is not None and level.when.conditions:
                try:
                    compile_conditions(level.when.conditions, registry, path=f"{path}.when.conditions", memo=memo)
                except RuleError as exc:
                    yield from exc.issues
