"""The checks a config gets once it is structured: one ordered table, one line per feature.

Each feature checks its own section and takes only what it checks; this table is the one place that knows
which section goes to which check. Plugin checks (the ``check(obj, config)`` a target, action, rotation,
channel, source or a plugin's settings registered) get the whole config, as their hook documents, because what
they refer to may be anywhere in it. A plugin check that raises is a fault naming the plugin, not a crash.

The checks also run over what could be read of a config with structural faults (``tolerant``): a check that
trips over a part the loader had to leave out is skipped, and the loader drops what a check says about such a
part, so every fault is reported in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tocsin.config.model import Config
from tocsin.config.plugin_checks import (
    action_checks,
    channel_checks,
    rotation_checks,
    settings_checks,
    source_checks,
    target_checks,
)
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


def _rule_checks(config: Config, registry: Registry) -> list[tuple[str, str]]:
    """The rules section's faults, then each action's own ``check(action, config)``, rule by rule."""
    faults = [(_rule_index(fault[0]), fault) for fault in check_rules(config.rules, registry)]
    faults.extend((_rule_index(fault[0]), fault) for fault in action_checks(config, registry))
    faults.sort(key=lambda item: item[0])  # stable: within a rule, its own faults come before its actions'
    return [fault for _, fault in faults]


def _rule_index(path: str) -> int:
    head = path.removeprefix("$.rules[")
    return int(head.split("]", 1)[0]) if head != path else -1


# Run in this order.
CHECKS: tuple[ConfigCheck, ...] = (
    _duplicate_ids,
    target_checks,
    lambda config, registry: check_channel_settings(config.users, config.notify_channels, config.channels, registry),
    channel_checks,
    lambda config, registry: check_schedules(config.schedules, registry),
    rotation_checks,
    _rule_checks,
    lambda config, registry: check_integrations(config.integrations),
    source_checks,
    lambda config, registry: check_server(config.server),
    lambda config, registry: check_working_hours(config.working_hours),
    lambda config, registry: check_levels(config.policies, config.working_hours, registry),
    lambda config, registry: check_heartbeats(config.heartbeats),
    lambda config, registry: check_maintenance(config.maintenance),
    lambda config, registry: check_rate_limits(config.delivery, registry),
    settings_checks,
)

# What a config that loads may still want changed: reported as warnings (``tocsin check`` prints them, the
# server logs them), never refused.
WARNINGS: tuple[ConfigCheck, ...] = (
    lambda config, registry: check_links(config.server.public_url, config.users, config.notify_channels, registry),
)


def run_checks(config: Config, registry: Registry, *, tolerant: bool = False) -> list[tuple[str, str]]:
    """Every ``(path, message)`` fault the checks find, in table order.

    :param tolerant: ``config`` is what could be read of a document with faults: a check that raises (over a
        part that had to be left out) is skipped, keeping what it found before.
    """
    faults: list[tuple[str, str]] = []
    for check in CHECKS:
        try:
            for fault in check(config, registry):
                faults.append(fault)
        except Exception:
            if not tolerant:
                raise
    return faults


def run_warnings(config: Config, registry: Registry) -> list[tuple[str, str]]:
    """Every ``(path, message)`` warning about a config that loaded, in table order."""
    return [warning for check in WARNINGS for warning in check(config, registry)]
