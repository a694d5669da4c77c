"""Load a configuration file (YAML, TOML or JSON) into a :class:`~tocsin.config.model.Config`, reporting every
fault at once.

The cattrs converter is built from the registry after plugins load, so plugin-provided variants (targets,
actions, rotations, contacts) are tagged unions on the key ``type``. Structural faults come from cattrs;
cross-reference checks run afterwards, over the whole document. Each fault is reported as
``FILE: $.path: message``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
import yaml

from tocsin.config.checks import run_checks, run_warnings
from tocsin.config.model import Config
from tocsin.config.plugin_checks import plugin_path
from tocsin.convert import ConversionFault, make_converter, structure_faults, tainted_paths
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.every_fault import NOTHING, original_path, salvaged, shifted_lists
from tocsin.integrations.codec import register_integration_hooks
from tocsin.registry import UNUSABLE, Registry, UnknownNameError, UnusableSettings
from tocsin.schedules.codec import register_schedule_hooks

__all__ = [
    "config_converter",
    "config_warnings",
    "dump_config",
    "load_config",
    "parse_config",
    "parse_document",
    "read_document",
]


def config_converter(registry: Registry) -> cattrs.Converter:
    """The kernel's converter for ``registry``, taught the config's own shapes (integrations, restrictions)."""
    converter = make_converter(registry, every_fault=True)
    register_integration_hooks(converter, registry.sources)
    register_schedule_hooks(converter)
    return converter


def read_document(path: str | Path) -> Any:
    """Parse a YAML, TOML or JSON file by its suffix; a syntax error is a ``ConfigError`` with the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), "$", f"cannot read file: {exc.strerror or exc}")]) from None
    return parse_document(text, path)


def parse_document(text: str, path: str | Path) -> Any:
    """Parse ``text``, the contents of the file ``path``, as YAML, TOML or JSON by the path's suffix; a syntax
    error is a ``ConfigError`` naming the file and the line."""
    path = Path(path)
    name = str(path)
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
    """Structure an already-parsed document; raise ``ConfigError`` listing every fault.

    Every fault is found in one pass: structural faults (unknown keys, wrong types, validators) are collected
    class by class, and the checks (references, time zones, operators, plugins' own checks) run over what
    could be read, so each is reported beside the others. A check says nothing about a part of the document
    that already has a fault of its own.
    """
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError([ConfigIssue(source, "$", "the configuration must be a mapping of sections")])
    converter = config_converter(registry)
    document = dict(document)
    channel_settings = document.pop("channels", None) or {}
    plugin_sections = document.pop("plugins", None) or {}
    reading = _Reading()
    read = reading.structure(converter, document, Config, "$")
    config: Config = read if isinstance(read, Config) else Config()  # every section has a default
    channels = _structure_channels(channel_settings, registry, converter, reading)
    plugins, faulty = _structure_plugins(plugin_sections, registry, converter, reading)
    config = attrs.evolve(config, channels=channels, plugins=plugins)
    # A plugin whose settings have faults is not called by the checks: what it would say rests on them.
    checked = registry.bind({**plugins, **dict.fromkeys(faulty, UNUSABLE)})
    reading.checked(run_checks(config, checked, tolerant=bool(reading.faults)), config, faulty)
    if reading.faults:
        raise ConfigError(ConfigIssue(source, path, message) for path, message in reading.faults)
    return config


def config_warnings(config: Config, registry: Registry, *, source: str = "<config>") -> list[ConfigIssue]:
    """What a loaded config may want changed (it works as it is): ``FILE: $.path: message`` issues."""
    return [ConfigIssue(source, path, message) for path, message in run_warnings(config, registry)]


class _Reading:
    """The faults of one document, where its salvaged parts were left out or replaced, and which of its lists
    lost items (so a check's path can name the document's own index)."""

    def __init__(self) -> None:
        self.faults: list[ConversionFault] = []
        self._tainted: list[str] = []
        self._shifted: dict[int, list[int]] = {}

    def structure(self, converter: cattrs.Converter, value: Any, cls: Any, path: str) -> Any:
        """``value`` structured as ``cls``, or what could be read of it (its faults recorded at ``path``)."""
        try:
            return converter.structure(value, cls)
        except Exception as exc:
            self.faults.extend(structure_faults(exc, path))
            self._tainted.extend(tainted_paths(exc, path))
            self._shifted.update(shifted_lists(exc))
            return salvaged(exc)

    def checked(self, faults: Iterable[ConversionFault], config: Config, faulty: Iterable[str] = ()) -> None:
        """Record the checks' faults, each at the document's own path, unless it concerns a part with a fault or
        comes from a plugin whose settings have faults (``faulty``)."""
        unusable = [UnusableSettings.message(plugin) for plugin in faulty]
        for path, message in faults:
            path = original_path(path, config, self._shifted)
            if any(_related(path, tainted) for tainted in self._tainted) or any(u in message for u in unusable):
                continue
            self.faults.append((path, message))


def _related(path: str, other: str) -> bool:
    """True when one path is the other or lies inside it."""
    short, long = sorted((path, other), key=len)
    return long == short or (long.startswith(short) and long[len(short)] in ".[")


def dump_config(config: Config, registry: Registry) -> dict[str, Any]:
    """Unstructure ``config`` back into a plain document (defaults left out) that loads to an equal one."""
    converter = config_converter(registry)
    document: dict[str, Any] = converter.unstructure(attrs.evolve(config, channels={}, plugins={}))
    document.pop("channels", None)
    document.pop("plugins", None)
    if config.channels:
        document["channels"] = {name: converter.unstructure(value) for name, value in config.channels.items()}
    # A plugin without a section gets its defaults, so a section of defaults only is left out.
    plugins = {name: converter.unstructure(value) for name, value in config.plugins.items() if value is not None}
    if any(plugins.values()):
        document["plugins"] = {name: value for name, value in plugins.items() if value}
    return document


def _structure_channels(raw: Any, registry: Registry, converter: cattrs.Converter, reading: _Reading) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    if not isinstance(raw, Mapping):
        reading.faults.append(("$.channels", "expected a mapping of channel name to settings"))
        return channels
    for name, value in raw.items():
        path = f"$.channels.{name}"
        try:
            channel = registry.channels.get(name)
        except UnknownNameError as exc:
            reading.faults.append((path, str(exc)))
            continue
        if channel.settings is None:
            reading.faults.append((path, f"channel {name!r} takes no settings"))
            continue
        settings = reading.structure(converter, value or {}, channel.settings, path)
        if settings is not NOTHING:
            channels[name] = settings
    return channels


def _structure_plugins(
    raw: Any, registry: Registry, converter: cattrs.Converter, reading: _Reading
) -> tuple[dict[str, Any], list[str]]:
    """Each plugin's settings: its ``plugins.<name>`` section read into the class it registered (a plugin without
    a section gets the class built from ``{}``), and the plugins whose settings have faults. A section of a
    plugin that was left out is not read."""
    if not isinstance(raw, Mapping):
        reading.faults.append(("$.plugins", "expected a mapping of plugin name to settings"))
        raw = {}
    for name in raw:
        if name in registry.settings or name in registry.left_out:
            continue
        known = ", ".join(registry.settings.names()) or "(none)"
        what = f"plugin {name!r} takes no settings" if name in registry.plugin_names else f"unknown plugin {name!r}"
        reading.faults.append((plugin_path(name), f"{what}; plugins that take settings: {known}"))
    settings: dict[str, Any] = {}
    faulty: list[str] = []
    for entry in registry.settings:
        before = len(reading.faults)
        value = reading.structure(converter, raw.get(entry.name) or {}, entry.value.cls, plugin_path(entry.name))
        settings[entry.name] = None if value is NOTHING else value
        if len(reading.faults) > before:
            faulty.append(entry.name)
    return settings, faulty
