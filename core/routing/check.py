"""The config check for routing rules: every rule compiles, and names are unique."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tocsin.models import RoutingRule
from tocsin.registry import Registry
from tocsin.routing.compile import RuleError, compile_rule

__all__ = ["check_rules"]


def check_rules(rules: Sequence[RoutingRule], registry: Registry) -> Iterator[tuple[str, str]]:
    """Yield ``(path, message)`` for each fault in the ``rules`` section.

    Compiles every rule exactly as the evaluator will (unknown operators list the known ones, unknown
    fields suggest the closest, values are checked per operator) and flags a name used twice. What an
    action refers to (a ``use_policy`` naming a policy) is its plugin's ``check``, run by the config loader.
    """
    first_use: dict[str, int] = {}
    for index, rule in enumerate(rules):
        path = f"$.rules[{index}]"
        try:
            compile_rule(rule, registry, order=index, path=path)
        except RuleError as exc:
            yield from exc.issues
        if rule.name in first_use:
            yield f"{path}.name", f"duplicate rule name {rule.name!r} (first used at $.rules[{first_use[rule.name]}])"
        else:
            first_use[rule.name] = index
