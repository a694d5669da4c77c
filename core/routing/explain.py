"""Explain routing: for every rule, each condition's value, operator, expected value and verdict, why the
rule did or did not match, and what each of its actions set or why it was ignored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from tocsin.models import Incident, RoutingRule
from tocsin.registry import MISSING
from tocsin.routing.actions import Effect, RoutingResult
from tocsin.routing.compile import CompiledRule, ConditionResult
from tocsin.routing.index import evaluation_order
from tocsin.values import to_jsonable

__all__ = ["RoutingExplanation", "RuleExplanation", "condition_json", "explain_routing"]


def condition_json(result: ConditionResult) -> dict[str, Any]:
    """``{"field", "operator", "expected", "value", "missing", "result", "error"}`` for one condition."""
    return {
        "field": result.field,
        "operator": result.operator,
        "expected": to_jsonable(result.expected),
        "value": to_jsonable(result.value),
        "missing": result.value is MISSING,
        "result": result.result,
        "error": result.error,
    }


@attrs.frozen(kw_only=True)
class RuleExplanation:
    """One rule's verdict: whether it matched, why, its conditions one by one, and its actions' effects."""

    rule: RoutingRule
    matched: bool
    reason: str
    conditions: tuple[ConditionResult, ...]
    effects: tuple[Effect, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"rule", "priority", "enabled", "matched", "reason", "conditions": [...], "actions": [...]}``."""
        return {
            "rule": self.rule.name,
            "priority": self.rule.priority,
            "enabled": self.rule.enabled,
            "matched": self.matched,
            "reason": self.reason,
            "conditions": [condition_json(result) for result in self.conditions],
            "actions": [effect.to_json() for effect in self.effects],
        }


@attrs.frozen(kw_only=True)
class RoutingExplanation:
    """Every rule in evaluation order (disabled ones included) and the routing result they produce."""

    rules: tuple[RuleExplanation, ...]
    result: RoutingResult

    def to_json(self) -> list[dict[str, Any]]:
        """One object per rule, as :meth:`RuleExplanation.to_json`."""
        return [rule.to_json() for rule in self.rules]


def explain_routing(
    rules: Sequence[CompiledRule],
    incident: Incident,
    apply: Callable[[Sequence[CompiledRule]], RoutingResult],
) -> RoutingExplanation:
    """Evaluate every condition of every rule (none skipped) and apply the matching rules with ``apply``."""
    verdicts: list[tuple[CompiledRule, bool, str, tuple[ConditionResult, ...]]] = []
    matched: list[CompiledRule] = []
    stopped_by: str | None = None
    for compiled in evaluation_order(rules):
        results = tuple(compiled.conditions.explain(incident))
        failing = [f"{r.field} {r.operator}" + (f" ({r.error})" if r.error else "") for r in results if not r.result]
        if not compiled.rule.enabled:
            verdict, reason = False, "disabled"
        elif stopped_by is not None:
            verdict, reason = False, f"not evaluated: rule {stopped_by!r} matched and has stop: true"
        elif failing:
            verdict, reason = False, "false: " + "; ".join(failing)
        else:
            verdict, reason = True, "all conditions hold"
            matched.append(compiled)
            if compiled.rule.stop:
                stopped_by = compiled.rule.name
                reason += "; stop: true ends evaluation"
        verdicts.append((compiled, verdict, reason, results))
    result = apply(matched)
    effects: dict[str, list[Effect]] = {}
    for effect in result.effects:
        effects.setdefault(effect.rule, []).append(effect)
    explained = tuple(
        RuleExplanation(
            rule=compiled.rule,
            matched=verdict,
            reason=reason,
            conditions=results,
            effects=tuple(effects.get(compiled.rule.name, ())) if verdict else (),
        )
        for compiled, verdict, reason, results in verdicts
    )
    return RoutingExplanation(rules=explained, result=result)
