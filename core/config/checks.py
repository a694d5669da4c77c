"""The checks a config gets once it structured cleanly: one ordered table, one line per feature.

Each feature checks its own section and takes only what it checks; this table is the one place that knows
which section goes to which check. Plugin checks (a target's or an action's ``check(obj, config)``) get the
whole config, as their hook documents, because what they refer to may be anywhere in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tocsin.config.model import Config
from tocsin.config.serving import check_server
from tocsin.delivery.channels import check_channel_settings
from tocsin.delivery.links import check_links
from tocsin.delivery.settings import check_rate_limits
from tocsin.escalation.level_rules import check_levels
from tocsin.escalation.maintenance import check_maintenance
from tocsin.escalation.working_hours import check_working_hours
from tocsin.integrations.events import check_integrations
from tocsin.integrations.heartbeats import check_heartbeats
from tocsin.registry import Registry
from tocsin.routing.check import check_rules
from tocsin.schedules.resolver import check_schedules

__all__ = ["CHECKS", "WARNINGS", "ConfigCheck", "run_checks", "run_warnings"]

# A check looks at the structured config and yields (path, message) for each fault it finds.
ConfigCheck = Callable[[Config, Registry], Iterable[tuple[str, str]]]


def _duplicate_ids(config: Config, registry: Registry) -> Iterator[tuple[str, str]]:
    for section in ("schedules", "policies"):
        seen: dict[str, int] = {}
        for index, item in enumerate(getattr(config, section)):
            if item.id in seen:
                yield (
                    f"$.{section}[{index}].id",
                    f"duplicate id {item.id!r} (first used at $.{section}[{seen[item.id]}])",
                )
            else:
                seen[item.id] = index


def _plugin_check(entry: Any, obj: Any, path: str, config: Config) -> Iterator[tuple[str, str]]:
    if entry.check is not None:
        for message in entry.check(obj, config):
            yield path, message


def _target_checks(config: Config, registry: Registry) -> Iterator[tuple[str, str]]:
    """Each target's own ``check(target, config)``: the team, schedule or person it names must exist."""
    for p, policy in enumerate(config.policies):
        for lv, level in enumerate(policy.levels):
            for t, target in enumerate(level.targets):
                path = f"$.policies[{p}].levels[{lv}].targets[{t}]"
                yield from _plugin_check(registry.targets.get(target.type), target, path, config)
    for s, schedule in enumerate(config.schedules):
        if schedule.fallback is not None:
            entry = registry.targets.get(schedule.fallback.type)
            yield from _plugin_check(entry, schedule.fallback, f"$.schedules[{s}].fallback", config)


def _rule_checks(config: Config, registry: Registry) -> list[tuple[str, str]]:
    """The rules section's faults, then each action's own ``check(action, config)``, rule by rule."""
    faults = [(_rule_index(fault[0]), fault) for fault in check_rules(config.rules, registry)]
    for r, rule in enumerate(config.rules):
        for a, action in enumerate(rule.actions):
            tag = getattr(type(action), "type", None)
            if isinstance(tag, str) and tag in registry.actions:
                entry = registry.actions.get(tag)
                faults.extend(
                    (r, fault) for fault in _plugin_check(entry, action, f"$.rules[{r}].actions[{a}]", config)
                )
    faults.sort(key=lambda item: item[0])  # stable: within a rule, its own faults come before its actions'
    return [fault for _, fault in faults]


def _rule_index(path: str) -> int:
    head = path.removeprefix("$.rules[")
    return int(head.split("]", 1)[0]) if head != path else -1


# Run in this order, once the document structured cleanly.
CHECKS: tuple[ConfigCheck, ...] = (
    _duplicate_ids,
    _target_checks,
    lambda config, registry: check_channel_settings(config.users, config.notify_channels, config.channels, registry),
    lambda config, registry: check_schedules(config.schedules, registry),
    _rule_checks,
    lambda config, registry: check_integrations(config.integrations),
    lambda config, registry: check_server(config.server),
    lambda config, registry: check_working_hours(config.working_hours),
    lambda config, registry: check_levels(config.policies, config.working_hours, registry),
    lambda config, registry: check_heartbeats(config.heartbeats),
    lambda config, registry: check_maintenance(config.maintenance),
    lambda config, registry: check_rate_limits(config.delivery, registry),
)

# What a config that loads may still want changed: reported as warnings (``tocsin check`` prints them, the
# server logs them), never refused.
WARNINGS: tuple[ConfigCheck, ...] = (
    lambda config, registry: check_links(config.server.public_url, config.users, config.notify_channels, registry),
)


def run_checks(config: Config, registry: Registry) -> list[tuple[str, str]]:
    """Every ``(path, message)`` fault the checks find in a config that structured cleanly, in table order."""
    faults: list[tuple[str, str]] = []
    for check in CHECKS:
        faults.extend(check(config, registry))
    return faults


def run_warnings(config: Config, registry: Registry) -> list[tuple[str, str]]:
    """Every ``(path, message)`` warning about a config that loaded, in table order."""
    return [warning for check in WARNINGS for warning in check(config, registry)]
