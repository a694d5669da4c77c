"""The plugins' own load-time checks, run over a whole config: what a plugin says of the things it provides.

Every extension point whose entries take settings may register ``check(obj, config)``, a generator of messages
for what the settings class cannot see alone (a reference that does not resolve). Each is run here for every
place the config uses it, and its messages are reported at that place's path. Sources are also compiled, as
``tocsin serve`` would compile them (rotations are compiled by the schedules' own check). A check or a compile
that raises is the plugin's fault and is reported as one, naming the plugin; it never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tocsin.config.model import Config
from tocsin.errors import FieldError
from tocsin.registry import Registry, Table

__all__ = [
    "action_checks",
    "channel_checks",
    "plugin_path",
    "rotation_checks",
    "settings_checks",
    "source_checks",
    "target_checks",
]

Fault = tuple[str, str]


def plugin_path(name: str) -> str:
    """Where a plugin's settings are: ``$.plugins.acme`` (``$.plugins['tocsin.plugins.audit']`` for a dotted name)."""
    return f"$.plugins.{name}" if name.isidentifier() else f"$.plugins[{name!r}]"


def _run(
    table: Table[Any], name: str, path: str, call: Callable[[Any], Iterable[str]], what: str = "the check"
) -> Iterator[Fault]:
    """``call(entry)``'s messages at ``path``. A ``FieldError`` is a fault of that field, a ``ValueError`` from a
    compile one of the settings; anything else it raises is a fault of the plugin that registered ``name``."""
    if name not in table:
        return  # an unknown name was reported where the document was read
    registered = table.entry(name)
    try:
        for message in call(registered.value):
            yield path, message
    except FieldError as exc:
        yield f"{path}.{exc.field}", exc.message
    except ValueError as exc:
        if what == "compile":  # a compile rejects settings with a ValueError, as an operator rejects a value
            yield path, str(exc)
        else:
            yield path, f"plugin {registered.plugin!r}: {what} of {table.kind} {name!r} raised: {exc}"
    except Exception as exc:
        yield path, f"plugin {registered.plugin!r}: {what} of {table.kind} {name!r} raised {type(exc).__name__}: {exc}"


def _checked(obj: Any, config: Config) -> Callable[[Any], Iterable[str]]:
    return lambda entry: entry.check(obj, config) if entry.check is not None else ()


def target_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each target's ``check(target, config)``: the team, schedule or person it names must exist."""
    for p, policy in enumerate(config.policies):
        for lv, level in enumerate(policy.levels):
            for t, target in enumerate(level.targets):
                path = f"$.policies[{p}].levels[{lv}].targets[{t}]"
                yield from _run(registry.targets, target.type, path, _checked(target, config))
    for s, schedule in enumerate(config.schedules):
        if schedule.fallback is not None:
            path = f"$.schedules[{s}].fallback"
            yield from _run(registry.targets, schedule.fallback.type, path, _checked(schedule.fallback, config))


def action_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each routing action's ``check(action, config)`` (a policy it names must exist)."""
    for r, rule in enumerate(config.rules):
        for a, action in enumerate(rule.actions):
            path = f"$.rules[{r}].actions[{a}]"
            yield from _run(registry.actions, type(action).type, path, _checked(action, config))


def rotation_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each layer's rotation's ``check(settings, config)``."""
    for s, schedule in enumerate(config.schedules):
        for index, layer in enumerate(schedule.layers):
            path = f"$.schedules[{s}].layers[{index}].rotation"
            yield from _run(registry.rotations, layer.rotation.type, path, _checked(layer.rotation, config))


def channel_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each configured channel's ``check(settings, config)``."""
    for name, settings in config.channels.items():
        yield from _run(registry.channels, name, f"$.channels.{name}", _checked(settings, config))


def source_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each integration's source compiled as ``tocsin serve`` compiles it, then its ``check(settings, config)``."""
    for name, integration in config.integrations.items():
        path = f"$.integrations[{name!r}]"
        compiled = list(_run(registry.sources, integration.type, path, _compiled(integration.source), "compile"))
        yield from compiled
        if not compiled:
            yield from _run(registry.sources, integration.type, path, _checked(integration.source, config))


def _compiled(settings: Any) -> Callable[[Any], Iterable[str]]:
    def compile_it(entry: Any) -> Iterable[str]:
        entry.compile(settings)
        return ()

    return compile_it


def settings_checks(config: Config, registry: Registry) -> Iterator[Fault]:
    """Each plugin's settings ``check(settings, config)``."""
    for entry in registry.settings:
        settings = config.plugins.get(entry.name)
        if settings is not None:
            yield from _run(registry.settings, entry.name, plugin_path(entry.name), _checked(settings, config))
