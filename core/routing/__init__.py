"""Routing rules: conditions compiled into closures, the rule index, actions and their effects, explain, the
config check for rules, and which escalation policy an incident gets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.routing.actions import ActionContext, Effect, RoutingResult
    from tocsin.routing.compile import ConditionSet, RuleError, compile_conditions
    from tocsin.routing.explain import RoutingExplanation, RuleExplanation
    from tocsin.routing.policies import select_policy
    from tocsin.routing.router import RoutingRuleEvaluator
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.routing.actions": ("ActionContext", "Effect", "RoutingResult"),
            "tocsin.routing.compile": ("ConditionSet", "RuleError", "compile_conditions"),
            "tocsin.routing.explain": ("RoutingExplanation", "RuleExplanation"),
            "tocsin.routing.policies": ("select_policy",),
            "tocsin.routing.router": ("RoutingRuleEvaluator",),
        },
    )

__all__ = [
    "ActionContext",
    "ConditionSet",
    "Effect",
    "RoutingExplanation",
    "RoutingResult",
    "RoutingRuleEvaluator",
    "RuleError",
    "RuleExplanation",
    "compile_conditions",
    "select_policy",
]
