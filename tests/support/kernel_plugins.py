"""Small plugins for the kernel's own tests, independent of the built-ins."""

from __future__ import annotations

import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs

import tocsin
from tocsin.rotation import PeriodicRotation

DAY = 24 * 3600
HOUR = 3600


def _hour(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not 0 <= value <= 23:
        raise tocsin.FieldError(attribute.name, f"must be between 0 and 23, got {value}")


@attrs.frozen(kw_only=True)
class PersonTarget:
    type: ClassVar[str] = "person"
    email: str


@attrs.frozen(kw_only=True)
class CrewTarget:
    type: ClassVar[str] = "crew"
    team_id: str


@attrs.frozen(kw_only=True)
class EveryDay:
    type: ClassVar[str] = "every_day"
    handoff_hour: int = attrs.field(validator=_hour)


@attrs.frozen(kw_only=True)
class Tag:
    type: ClassVar[str] = "tag"
    labels: dict[str, str]


@attrs.frozen(kw_only=True)
class Beeper:
    type: ClassVar[str] = "beeper"
    number: str


@attrs.frozen(kw_only=True)
class BeeperSettings:
    gateway: str
    retries: int = 3


def check_crew(target: CrewTarget, config: tocsin.Config) -> Iterator[str]:
    if target.team_id not in config.teams:
        yield f"unknown team {target.team_id!r}; known: {', '.join(sorted(config.teams)) or '(none)'}"


def make_plugin(name: str, **hooks: Any) -> types.ModuleType:
    """A module-like plugin object named ``name`` with the given hook functions."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, tocsin.hookimpl(function))
    return module


def basic_plugin(name: str = "kernel-test") -> types.ModuleType:
    """Registers two targets, a rotation, an action, a channel and an operator."""

    def tocsin_register_targets(register: tocsin.TargetRegistrar) -> None:
        register(PersonTarget, expand=lambda target, ctx: [])
        register(CrewTarget, expand=lambda target, ctx: [], check=check_crew)

    def tocsin_register_rotations(register: tocsin.RotationRegistrar) -> None:
        register(EveryDay, compile=lambda settings: PeriodicRotation(DAY, settings.handoff_hour * HOUR))

    def tocsin_register_actions(register: tocsin.ActionRegistrar) -> None:
        register(Tag, apply=lambda action, ctx: None)

    def tocsin_register_channels(register: tocsin.ChannelRegistrar) -> None:
        register(Beeper, create=lambda settings: None, settings=BeeperSettings)

    def tocsin_register_operators(register: tocsin.OperatorRegistrar) -> None:
        register("is", lambda expected: lambda actual: actual == expected)

    def tocsin_register_extractors(register: tocsin.ExtractorRegistrar) -> None:
        register("kind", lambda field: lambda incident: incident.incident_type)

    return make_plugin(
        name,
        tocsin_register_targets=tocsin_register_targets,
        tocsin_register_rotations=tocsin_register_rotations,
        tocsin_register_actions=tocsin_register_actions,
        tocsin_register_channels=tocsin_register_channels,
        tocsin_register_operators=tocsin_register_operators,
        tocsin_register_extractors=tocsin_register_extractors,
    )


def kernel_registry() -> tocsin.Registry:
    """A registry with only :func:`basic_plugin`, no built-ins, no entry points."""
    return tocsin.load_plugins(builtins=(), autoload=False, extra=[basic_plugin()]).registry


def fake_distribution(site: Path, name: str, version: str, entry_points: dict[str, str], code: str) -> None:
    """Put an installed-looking distribution with ``tocsin`` entry points into the folder ``site``."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[tocsin]\n{lines}\n")
    module = next(iter(entry_points.values())).split(":")[0]
    (site / f"{module}.py").write_text(textwrap.dedent(code))
