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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
import yaml

from tocsin.config.checks import run_checks, run_warnings
from tocsin.config.model import Config
from tocsin.convert import ConversionFault, make_converter, structure_faults
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.integrations.codec import register_integration_hooks
from tocsin.registry import Registry, UnknownNameError
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
    converter = make_converter(registry)
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
    """Structure an already-parsed document; raise ``ConfigError`` listing every fault."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError([ConfigIssue(source, "$", "the configuration must be a mapping of sections")])
    converter = config_converter(registry)
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
            faults.extend(run_checks(config, registry))
    if faults:
        raise ConfigError(ConfigIssue(source, path, message) for path, message in faults)
    assert config is not None
    return config


def config_warnings(config: Config, registry: Registry, *, source: str = "<config>") -> list[ConfigIssue]:
    """What a loaded config may want changed (it works as it is): ``FILE: $.path: message`` issues."""
    return [ConfigIssue(source, path, message) for path, message in run_warnings(config, registry)]


def dump_config(config: Config, registry: Registry) -> dict[str, Any]:
    """Unstructure ``config`` back into a plain document (defaults left out) that loads to an equal one."""
    converter = config_converter(registry)
    document: dict[str, Any] = converter.unstructure(attrs.evolve(config, channels={}))
    document.pop("channels", None)
    if config.channels:
        document["channels"] = {name: converter.unstructure(value) for name, value in config.channels.items()}
    return document


def _structure_channels(raw: Any, registry: Registry, converter: Any) -> tuple[dict[str, Any], list[ConversionFault]]:
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
