"""Routing rules: conditions compiled into closures, the rule index, actions and their effects, explain, the
config check for rules, and which escalation policy an incident gets."""

from __future__ import annotations

from tocsin.routing.actions import ActionContext, Effect, RoutingResult
from tocsin.routing.compile import ConditionSet, RuleError, compile_conditions
from tocsin.routing.explain import RoutingExplanation, RuleExplanation
from tocsin.routing.policies import select_policy
from tocsin.routing.router import RoutingRuleEvaluator

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
