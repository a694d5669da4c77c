"""The condition compiler: ``field operator value`` becomes a closure, once, when a rule loads.

Each condition resolves its field to an extractor's getter and its operator to a test with the expected
value bound in; a list of conditions becomes one predicate that ANDs them, cheapest first. Nothing here
runs per incident except the closures it returns, and they never call pluggy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import attrs

from tocsin.errors import TocsinError
from tocsin.models import Incident, RoutingRule, RuleCondition
from tocsin.registry import MISSING, ActionType, Registry, UnknownNameError
from tocsin.routing.fields import resolve_extractor

__all__ = [
    "CompileMemo",
    "CompiledCondition",
    "CompiledRule",
    "ConditionResult",
    "ConditionSet",
    "RuleError",
    "compile_condition",
    "compile_conditions",
    "compile_rule",
    "conjunction",
]

Getter = Callable[[Any], Any]
Test = Callable[[Any], bool]
Predicate = Callable[[Incident], bool]


class RuleError(TocsinError, ValueError):
    """A rule or condition that cannot be compiled; ``issues`` lists each fault as ``(path, message)``."""

    def __init__(self, issues: Iterable[tuple[str, str]]) -> None:
        self.issues: tuple[tuple[str, str], ...] = tuple(issues)
        super().__init__("\n".join(f"{path}: {message}" for path, message in self.issues))


@attrs.frozen(kw_only=True)
class ConditionResult:
    """How one condition fared on one incident: the value read, the verdict, and any error."""

    field: str
    operator: str
    expected: Any
    value: Any  # tocsin.MISSING when the incident has no such field
    result: bool
    error: str | None = None


@attrs.frozen(kw_only=True)
class CompiledCondition:
    """A condition with its getter and test bound; ``keys`` are its index keys (None: not indexable)."""

    condition: RuleCondition
    get: Getter
    test: Test
    keys: frozenset[Hashable] | None = None
    cost: int = 2

    def check(self, incident: Incident) -> bool:
        """Whether the condition holds for ``incident`` (a ``TimeoutError`` propagates)."""
        return bool(self.test(self.get(incident)))

    def explain(self, incident: Incident) -> ConditionResult:
        """Evaluate the condition and say what was read and why it did or did not hold; never raises."""
        cond = self.condition
        try:
            value = self.get(incident)
        except Exception as exc:
            return ConditionResult(
                field=cond.field,
                operator=cond.operator,
                expected=cond.value,
                value=MISSING,
                result=False,
                error=f"reading the field failed: {type(exc).__name__}: {exc}",
            )
        error = None
        try:
            result = bool(self.test(value))
        except TimeoutError:
            result, error = False, "timed out (counts as no match)"
        except Exception as exc:
            result, error = False, f"the test failed: {type(exc).__name__}: {exc}"
        return ConditionResult(
            field=cond.field, operator=cond.operator, expected=cond.value, value=value, result=result, error=error
        )


CompileMemo = dict[Hashable, Any]


def compile_condition(
    condition: RuleCondition, registry: Registry, *, path: str = "condition", memo: CompileMemo | None = None
) -> CompiledCondition:
    """Compile one condition; :class:`RuleError` names ``path.field``, ``path.operator`` or ``path.value``.

    :param memo: share getters and tests between conditions compiled with the same dict (same field, same
        operator and value): fewer objects, so many rules stay cache-friendly. Extractors and operators
        compile to pure functions, so sharing them changes nothing else.
    """
    memo = {} if memo is None else memo
    issues: list[tuple[str, str]] = []
    getter: Getter | None = None
    test: Test | None = None
    keys: frozenset[Hashable] | None = None
    cost = 2
    if not isinstance(condition.field, str) or not condition.field:
        issues.append((f"{path}.field", f"expected a field name, got {condition.field!r}"))
    else:
        try:
            extractor = resolve_extractor(registry, condition.field)
            cost = extractor.cost
            getter = memo.get(("field", condition.field))
            if getter is None:
                getter = memo[("field", condition.field)] = extractor.compile(condition.field)
        except (UnknownNameError, ValueError) as exc:
            issues.append((f"{path}.field", _text(exc)))
    if condition.operator not in registry.operators:
        issues.append((f"{path}.operator", registry.operators.unknown_message(condition.operator)))
    else:
        operator = registry.operators.get(condition.operator)
        cost += operator.cost
        if not operator.takes_value and condition.value is not None:
            issues.append((f"{path}.value", f"{operator.name!r} takes no value, got {condition.value!r}"))
        else:
            expected = condition.value if operator.takes_value else MISSING
            key = _memo_key(operator.name, expected)
            try:
                if key is not None and key in memo:
                    test, keys = memo[key]
                else:
                    test = operator.compile(expected)
                    found = operator.keys(expected) if operator.keys is not None else None
                    keys = frozenset(found) if found is not None else None
                    if key is not None:
                        memo[key] = (test, keys)
            except (ValueError, TypeError) as exc:
                issues.append((f"{path}.value", _text(exc)))
    if issues:
        raise RuleError(issues)
    assert getter is not None and test is not None
    return CompiledCondition(condition=condition, get=getter, test=test, keys=keys, cost=cost)


def _memo_key(operator: str, expected: Any) -> Hashable | None:
    frozen = _freeze(expected)
    return None if frozen is None else ("test", operator, frozen)


def _freeze(value: Any) -> Hashable | None:
    """A hashable stand-in that tells 1, 1.0 and True apart; None for values it does not know."""
    if value is None or value is MISSING or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        items = [_freeze(item) for item in value]
        return None if any(item is None for item in items) else ("list", tuple(items))
    if isinstance(value, dict):
        pairs = [(str(key), _freeze(item)) for key, item in value.items()]
        if any(item is None for _, item in pairs) or any(not isinstance(key, str) for key in value):
            return None
        return ("dict", tuple(sorted(pairs)))
    return None


def _text(exc: BaseException) -> str:
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def conjunction(conditions: Sequence[CompiledCondition]) -> Predicate:
    """One closure that ANDs ``conditions`` cheapest first (stable for equal costs); True when empty."""
    ordered = sorted(conditions, key=lambda c: c.cost)
    pairs = [(c.get, c.test) for c in ordered]
    if not pairs:
        return _always
    # Default arguments rather than closure cells: fewer objects to touch per rule when rules are many.
    if len(pairs) == 1:
        ((g1, t1),) = pairs

        def one(incident: Incident, g1: Getter = g1, t1: Test = t1) -> bool:
            return t1(g1(incident))

        return one
    if len(pairs) == 2:
        (g1, t1), (g2, t2) = pairs

        def two(incident: Incident, g1: Getter = g1, t1: Test = t1, g2: Getter = g2, t2: Test = t2) -> bool:
            return t1(g1(incident)) and t2(g2(incident))

        return two
    if len(pairs) == 3:
        (g1, t1), (g2, t2), (g3, t3) = pairs

        def three(
            incident: Incident,
            g1: Getter = g1,
            t1: Test = t1,
            g2: Getter = g2,
            t2: Test = t2,
            g3: Getter = g3,
            t3: Test = t3,
        ) -> bool:
            return t1(g1(incident)) and t2(g2(incident)) and t3(g3(incident))

        return three
    frozen = tuple(pairs)

    def every(incident: Incident, frozen: tuple[tuple[Getter, Test], ...] = frozen) -> bool:
        return all(test(get(incident)) for get, test in frozen)

    return every


def _always(incident: Incident) -> bool:
    return True


class ConditionSet:
    """Compiled, ANDed conditions: call it with an incident for the verdict; ``explain`` says why.

    ``predicate`` is the bare closure (what the hot path calls). A ``TimeoutError`` from a condition
    propagates from both; callers that must not fail treat it as "no match".
    """

    __slots__ = ("conditions", "predicate")

    def __init__(self, conditions: Sequence[CompiledCondition]) -> None:
        self.conditions: tuple[CompiledCondition, ...] = tuple(conditions)
        self.predicate: Predicate = conjunction(self.conditions)

    def __call__(self, incident: Incident) -> bool:
        return bool(self.predicate(incident))

    def __len__(self) -> int:
        return len(self.conditions)

    def explain(self, incident: Incident) -> list[ConditionResult]:
        """Every condition evaluated (none skipped), in the order the rule lists them."""
        return [condition.explain(incident) for condition in self.conditions]


def compile_conditions(
    conditions: Iterable[RuleCondition],
    registry: Registry,
    *,
    path: str = "conditions",
    memo: CompileMemo | None = None,
) -> ConditionSet:
    """Compile ``conditions`` (ANDed) into a reusable :class:`ConditionSet`.

    Every field, operator and value is checked now; all faults are reported together.

    :param path: where the conditions sit in their document, for errors (e.g. ``$.rules[3].conditions``).
    :param memo: a dict shared by many calls, to share identical getters and tests (see compile_condition).
    :raises RuleError: e.g. ``$.rules[3].conditions[0].value: 'in' needs a list, got 'P0'``.
    """
    compiled: list[CompiledCondition] = []
    issues: list[tuple[str, str]] = []
    for index, condition in enumerate(conditions):
        if not isinstance(condition, RuleCondition):
            issues.append((f"{path}[{index}]", f"expected a RuleCondition, got {condition!r}"))
            continue
        try:
            compiled.append(compile_condition(condition, registry, path=f"{path}[{index}]", memo=memo))
        except RuleError as exc:
            issues.extend(exc.issues)
    if issues:
        raise RuleError(issues)
    return ConditionSet(compiled)


class CompiledRule:
    """A rule ready to run: its conditions, its actions bound to their types, and its position."""

    __slots__ = ("actions", "conditions", "order", "reported", "rule")

    def __init__(
        self,
        rule: RoutingRule,
        conditions: ConditionSet,
        actions: tuple[tuple[Any, ActionType], ...],
        order: int,
    ) -> None:
        self.rule = rule
        self.conditions = conditions
        self.actions = actions
        self.order = order  # position in definition order
        self.reported = False  # a failing condition is logged once per rule

    @property
    def name(self) -> str:
        """The rule's name."""
        return self.rule.name


def compile_rule(
    rule: RoutingRule, registry: Registry, *, order: int = 0, path: str = "", memo: CompileMemo | None = None
) -> CompiledRule:
    """Check and compile ``rule``: it needs a name, at least one condition and one action of known types.

    :param path: where the rule sits in its document (e.g. ``$.rules[3]``); issue paths are relative to it.
    :raises RuleError: listing every fault (e.g. ``conditions[0].value: 'in' needs a list, got 'P0'``).
    """
    issues: list[tuple[str, str]] = []
    if not isinstance(rule.name, str) or not rule.name.strip():
        issues.append((_join(path, "name"), "a rule needs a name"))
    if not rule.conditions:
        issues.append((_join(path, "conditions"), "a rule needs at least one condition"))
    if not rule.actions:
        issues.append((_join(path, "actions"), "a rule needs at least one action"))
    conditions = ConditionSet(())
    try:
        conditions = compile_conditions(rule.conditions, registry, path=_join(path, "conditions"), memo=memo)
    except RuleError as exc:
        issues.extend(exc.issues)
    actions: list[tuple[Any, ActionType]] = []
    for index, action in enumerate(rule.actions):
        where = _join(path, f"actions[{index}]")
        tag = getattr(type(action), "type", None)
        if not isinstance(tag, str) or tag not in registry.actions:
            issues.append((where, registry.actions.unknown_message(tag).replace("action", "action type", 1)))
            continue
        entry = registry.actions.get(tag)
        if not isinstance(action, entry.cls):
            issues.append((where, f"expected a {entry.cls.__name__} for action type {tag!r}, got {action!r}"))
            continue
        actions.append((action, entry))
    if issues:
        raise RuleError(issues)
    return CompiledRule(rule, conditions, tuple(actions), order)


def _join(path: str, tail: str) -> str:
    return f"{path}.{tail}" if path else tail
