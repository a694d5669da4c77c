"""Load a configuration file (YAML, TOML or JSON) into models, reporting every fault at once.

The cattrs converter is built from the registry after plugins load, so plugin-provided variants (targets,
actions, rotations, contacts) are tagged unions on the key ``type``. Structural faults come from cattrs;
cross-reference checks run afterwards, over the whole document. Each fault is reported as
``FILE: $.path: message``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from tocsin.delivery.channels import check_channel_settings
from tocsin.convert import ConversionFault, make_converter, structure_faults
from tocsin.delivery.settings import DeliverySettings
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.integrations.events import Integration, check_integrations
from tocsin.escalation.level_rules import check_levels
from tocsin.models import ContactSpec, EscalationPolicy, OnCallSchedule, RoutingRule, User
from tocsin.registry import Registry, UnknownNameError
from tocsin.routing.check import check_rules
from tocsin.schedules.resolver import check_schedules
from tocsin.config.serving import ServerSettings, StorageSettings, check_serving
from tocsin.escalation.working_hours import WorkingHours, check_working_hours

__all__ = [
    "Config",
    "ConfigCheck",
    "dump_config",
    "load_config",
    "parse_config",
    "read_document",
]


@attrs.frozen(kw_only=True)
class Config:
    """A whole configuration: people, schedules, policies and rules, plus channel settings."""

    teams: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    users: dict[str, User] = attrs.field(factory=dict)
    schedules: tuple[OnCallSchedule, ...] = ()
    policies: tuple[EscalationPolicy, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    channels: dict[str, Any] = attrs.field(factory=dict)  # channel name -> that channel's settings object
    notify_channels: dict[str, ContactSpec] = attrs.field(factory=dict)  # routing notify name -> contact
    integrations: dict[str, Integration] = attrs.field(factory=dict)  # name -> inbound integration
    server: ServerSettings = attrs.field(factory=ServerSettings)  # how ``tocsin serve`` listens, its tokens
    storage: StorageSettings = attrs.field(factory=StorageSettings)  # where ``tocsin serve`` keeps its state
    delivery: DeliverySettings = attrs.field(factory=DeliverySettings)  # outbox retries, timeouts, leases
    working_hours: dict[str, WorkingHours] = attrs.field(factory=dict)  # name -> window (smart escalation levels)

    def schedule(self, schedule_id: str) -> OnCallSchedule | None:
        """The schedule with ``schedule_id``, or None."""
        return next((s for s in self.schedules if s.id == schedule_id), None)

    def policy(self, policy_id: str) -> EscalationPolicy | None:
        """The policy with ``policy_id``, or None."""
        return next((p for p in self.policies if p.id == policy_id), None)


# A check looks at the structured config and yields (path, message) for each fault it finds.
ConfigCheck = Callable[[Config, Registry], Iterable[tuple[str, str]]]


def read_document(path: str | Path) -> Any:
    """Parse a YAML, TOML or JSON file by its suffix; a syntax error is a ``ConfigError`` with the line."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, "$", f"cannot read file: {exc.strerror or exc}")]) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(name, "$", f"invalid YAML: {where}{problem}")]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(name, "$", f"invalid JSON: line {exc.lineno}: {exc.msg}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue(name, "$", f"invalid TOML: {exc}")]) from None


def load_config(path: str | Path, registry: Registry) -> Config:
    """Read and check the configuration at ``path``; raise ``ConfigError`` listing every fault."""
    return parse_config(read_document(path), registry, source=str(path))


def parse_config(document: Any, registry: Registry, *, source: str = "<config>") -> Config:
    """Structure an already-parsed document; raise ``ConfigError`` listing every fault."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError([ConfigIssue(source, "$", "the configuration must be a mapping of sections")])
    converter = make_converter(registry)
    document = dict(document)
    channel_settings = document.pop("channels", None) or {}
    faults: list[ConversionFault] = []
    config: Config | None = None
    try:
        config = converter.structure(document, Config)
    except Exception as exc:
        faults.extend(structure_faults(exc))
    channels, channel_faults = _structure_channels(channel_settings, registry, converter)
    faults.extend(channel_faults)
    if config is not None:
        config = attrs.evolve(config, channels=channels)
        if not faults:
            faults.extend(_run_checks(config, registry))
    if faults:
        raise ConfigError(ConfigIssue(source, path, message) for path, message in faults)
    assert config is not None
    return config


def dump_config(config: Config, registry: Registry) -> dict[str, Any]:
    """Unstructure ``config`` back into a plain document (defaults left out) that loads to an equal one."""
    converter = make_converter(registry)
    document = converter.unstructure(attrs.evolve(config, channels={}))
    document.pop("channels", None)
    if config.channels:
        document["channels"] = {name: converter.unstructure(value) for name, value in config.channels.items()}
    return document


def _structure_channels(raw: Any, registry: Registry, converter: Any) -> tuple[dict[str, Any], list]:
    faults: list[ConversionFault] = []
    channels: dict[str, Any] = {}
    if not isinstance(raw, Mapping):
        return channels, [("$.channels", "expected a mapping of channel name to settings")]
    for name, value in raw.items():
        path = f"$.channels.{name}"
        try:
            channel = registry.channels.get(name)
        except UnknownNameError as exc:
            faults.append((path, str(exc)))
            continue
        if channel.settings is None:
            faults.append((path, f"channel {name!r} takes no settings"))
            continue
        try:
            channels[name] = converter.structure(value or {}, channel.settings)
        except Exception as exc:
            faults.extend(structure_faults(exc, path))
    return channels, faults


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


def _target_references(config: Config, registry: Registry) -> Iterator[tuple[str, str]]:
    def check(target: Any, path: str) -> Iterator[tuple[str, str]]:
        entry = registry.targets.get(target.type)
        if entry.check is not None:
            for message in entry.check(target, config):
                yield path, message

    for p, policy in enumerate(config.policies):
        for lv, level in enumerate(policy.levels):
            for t, target in enumerate(level.targets):
                yield from check(target, f"$.policies[{p}].levels[{lv}].targets[{t}]")
    for s, schedule in enumerate(config.schedules):
        if schedule.fallback is not None:
            yield from check(schedule.fallback, f"$.schedules[{s}].fallback")


# Checks that need the whole document, run in this order once it structured cleanly.
_CHECKS: tuple[ConfigCheck, ...] = (
    _duplicate_ids,
    _target_references,
    check_channel_settings,
    check_schedules,
    check_rules,
    check_integrations,
    check_serving,
    check_working_hours,
    check_levels,
)


def _run_checks(config: Config, registry: Registry) -> list[ConversionFault]:
    faults: list[ConversionFault] = []
    for check in _CHECKS:
        faults.extend(check(config, registry))
    return faults
