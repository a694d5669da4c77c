"""Helpers for the routing tests: the built-in registry, incidents, conditions and rules from config."""

from __future__ import annotations

from typing import Any

import tocsin
from support.plugins import builtin_registry
from tocsin import Incident, RoutingRule, RuleCondition


def incident(**fields: Any) -> Incident:
    """An incident with sensible defaults (a P2 'Disk full on db-1' from monitoring)."""
    defaults: dict[str, Any] = {"source": "monitoring", "title": "Disk full on db-1", "severity": "P2"}
    return Incident(**{**defaults, **fields})


def holds(field: str, operator: str, value: Any = None, *, on: Incident) -> bool:
    """Compile one condition with the built-ins and test it on ``on``."""
    condition = RuleCondition(field=field, operator=operator, value=value)
    return tocsin.compile_conditions([condition], builtin_registry())(on)


def rules_from(*documents: dict[str, Any]) -> tuple[RoutingRule, ...]:
    """Rules as a config file would give them (structured and checked like ``rules:`` in YAML)."""
    config = tocsin.parse_config({"rules": list(documents)}, builtin_registry(), source="rules.yaml")
    return config.rules


def evaluator(*documents: dict[str, Any], **options: Any) -> tocsin.RoutingRuleEvaluator:
    """An evaluator over rules written as config documents."""
    return tocsin.RoutingRuleEvaluator(builtin_registry(), rules_from(*documents), **options)


def names(rules: Any) -> list[str]:
    """The names of rules (RoutingRule objects), in order."""
    return [rule.name for rule in rules]
