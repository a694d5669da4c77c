"""Where an engine's collaborators are chosen: the one place that picks the defaults.

An :class:`~tocsin.escalation.engine.EscalationEngine` runs on a plugin set, a store, a clock, the channel
senders, an outbox over that store, and a target executor. :func:`wire_engine` builds whichever of them the
caller did not pass; nothing else constructs a default. The engine reads a config only through
:class:`EngineConfig`, the few sections it uses, so it does not depend on the config package above it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from tocsin.clock import Clock, SystemClock
from tocsin.delivery.channels import ChannelSet, channels_used
from tocsin.delivery.outbox import Outbox
from tocsin.delivery.settings import DeliverySettings
from tocsin.escalation.targets import TargetExecutor
from tocsin.escalation.working_hours import WorkingHours
from tocsin.manager import Plugins, load_plugins
from tocsin.models import EscalationPolicy, OnCallSchedule, PlaybookSpec, User
from tocsin.store.interfaces import EscalationStore
from tocsin.store.memory import InMemoryStore

__all__ = ["EngineConfig", "EngineParts", "wire_engine"]


class EngineConfig(Protocol):
    """The sections of a configuration an engine reads (``tocsin.Config`` has them all)."""

    @property
    def teams(self) -> Mapping[str, Iterable[str]]: ...

    @property
    def users(self) -> Mapping[str, User]: ...

    @property
    def schedules(self) -> Sequence[OnCallSchedule]: ...

    @property
    def policies(self) -> Sequence[EscalationPolicy]: ...

    @property
    def channels(self) -> Mapping[str, Any]: ...

    @property
    def delivery(self) -> DeliverySettings: ...

    @property
    def working_hours(self) -> Mapping[str, WorkingHours]: ...

    @property
    def playbooks(self) -> Mapping[str, PlaybookSpec]: ...


@attrs.frozen(kw_only=True)
class EngineParts:
    """What one engine is built from."""

    plugins: Plugins
    store: EscalationStore
    clock: Clock
    channels: ChannelSet
    outbox: Outbox
    executor: TargetExecutor


def wire_engine(
    plugins: Plugins | None = None,
    store: EscalationStore | None = None,
    *,
    clock: Clock | None = None,
    config: EngineConfig | None = None,
    channels: ChannelSet | None = None,
    delivery_timeout: float | None = None,
) -> EngineParts:
    """The engine's parts: those given, and defaults for the rest.

    Defaults: the built-in and installed plugins, an in-memory store, the system clock, senders created from
    the registry and ``config.channels`` (and the ``playbook`` channel running ``config.playbooks``), and an
    outbox that retries as ``config.delivery`` says (with ``delivery_timeout`` seconds per attempt when given).
    """
    plugins = plugins if plugins is not None else load_plugins()
    # A tocsin.Config carries each plugin's settings (its ``plugins`` section); other EngineConfigs may not.
    plugin_settings = getattr(config, "plugins", None)
    if plugin_settings:
        plugins = plugins.configured(plugin_settings)
    clock = clock if clock is not None else SystemClock()
    store = store if store is not None else InMemoryStore()
    if channels is None:
        settings, playbooks = (config.channels, config.playbooks) if config is not None else (None, None)
        # The channels the config uses are started with the outbox; any other at its first delivery.
        expected = (
            [*config.channels, *channels_used(config.users, getattr(config, "notify_channels", None))] if config else []
        )
        channels = ChannelSet(plugins.registry, settings, expected=expected, playbooks=playbooks)
    outbox = Outbox(
        store,
        channels,
        clock=clock,
        settings=config.delivery if config is not None else None,
        timeout_seconds=delivery_timeout,
        still_open=functools.partial(_still_open, store),
    )
    executor = TargetExecutor(plugins.registry)
    return EngineParts(plugins=plugins, store=store, clock=clock, channels=channels, outbox=outbox, executor=executor)


def _still_open(store: EscalationStore, incident_id: str, escalation_id: str) -> bool:
    """Whether ``escalation_id`` is still the open escalation of ``incident_id`` (a page folded by a rate limit
    is summarized only then)."""
    row = store.load(incident_id)
    return row is not None and row.is_open and row.escalation_id == escalation_id
