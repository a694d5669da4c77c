"""The config check for routing rules: every rule compiles, names are unique, action references resolve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tocsin.registry import Registry
from tocsin.routing.compile import RuleError, compile_rule

if TYPE_CHECKING:
    from tocsin.config.loader import Config

__all__ = ["check_rules"]


def check_rules(config: Config, registry: Registry) -> Iterator[tuple[str, str]]:
    """Yield ``(path, message)`` for each fault in ``config.rules``.

    Compiles every rule exactly as the evaluator will (unknown operators list the known ones, unknown
    fields suggest the closest, values are checked per operator), flags a name used twice, and runs each
    action type's ``check`` (a ``use_policy`` naming a policy that does not exist).
    """
    first_use: dict[str, int] = {}
    for index, rule in enumerate(config.rules):
        path = f"$.rules[{index}]"
        try:
            compile_rule(rule, registry, order=index, path=path)
        except RuleError as exc:
            yield from exc.issues
        if rule.name in first_use:
            yield f"{path}.name", f"duplicate rule name {rule.name!r} (first used at $.rules[{first_use[rule.name]}])"
        else:
            first_use[rule.name] = index
        for number, action in enumerate(rule.actions):
            tag = getattr(type(action), "type", None)
            if not isinstance(tag, str) or tag not in registry.actions:
                continue
            check = registry.actions.get(tag).check
            if check is not None:
                for message in check(action, config):
                    yield f"{path}.actions[{number}]", message
