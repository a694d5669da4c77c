"""One loaded config and everything the server compiled from it, held as ONE reference so that a reload swaps
it whole: routing, the incident processor, inbound integrations, schedules, tokens, the people it knows.

The engine is not rebuilt on a reload (it holds the escalations in flight, the due-queue and the outbox); it
takes the new teams, people, schedules and policies through
:meth:`~tocsin.escalation.engine.EscalationEngine.replace_config`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import attrs

from tocsin.clock import Clock
from tocsin.config import Config, dump_config
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.maintenance import ConfigWindows
from tocsin.intake.inbound import Inbound
from tocsin.intake.maintenance import MaintenanceGate
from tocsin.intake.processor import IncidentProcessor
from tocsin.manager import Plugins
from tocsin.schedules.resolver import ScheduleResolver, compile_schedule
from tocsin.server.auth import Authenticator
from tocsin.server.errors import ServerError
from tocsin.server.offload import OffloadedRouting
from tocsin.server.ratelimit import RateLimiter
from tocsin.server.storage import Storage

__all__ = ["Loaded", "config_digest", "load_parts"]


@attrs.frozen(kw_only=True)
class Loaded:
    """A config, where it came from, and what was compiled from it."""

    config: Config
    source: Path | None  # the file it was read from (None: handed in, so it cannot be reloaded)
    digest: str  # SHA-256 of the file's bytes (of the config as JSON when there is no file)
    loaded_at: datetime
    auth: Authenticator
    routing: OffloadedRouting
    processor: IncidentProcessor
    inbound: Inbound
    schedules: dict[str, ScheduleResolver]
    ack_limit: RateLimiter
    people: frozenset[str]  # whom an override may put on call
    maintenance: MaintenanceGate  # the config's maintenance windows, and the store's


def config_digest(config: Config, plugins: Plugins, text: bytes | None) -> str:
    """SHA-256 (hex) of ``text``, the config file's bytes (``sha256sum FILE`` prints the same); of the config
    written as canonical JSON when there is no file."""
    if text is None:
        document = dump_config(config, plugins.registry)
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(text).hexdigest()


def load_parts(
    config: Config,
    plugins: Plugins,
    engine: EscalationEngine,
    storage: Storage,
    clock: Clock,
    *,
    source: Path | None,
    digest: str,
    auth: Authenticator | None = None,
) -> Loaded:
    """Compile what the server needs of ``config`` (nothing is changed: the engine is only referred to).

    :raises ServerError: a token (an API token's, a heartbeat's) whose variable is unset, or no tokens without
        ``auth: none``.
    :raises TocsinError: a schedule or integration that cannot be compiled.
    """
    registry = plugins.registry
    for name, heartbeat in config.heartbeats.items():  # a missing secret stops the load, before anything changes
        try:
            heartbeat.secret()
        except LookupError as exc:
            raise ServerError(f"heartbeat {name!r}: {exc}") from None
    routing = OffloadedRouting(registry, config.rules, policies=config.policy, playbook_specs=config.playbooks)
    maintenance = MaintenanceGate(ConfigWindows(config.maintenance), storage.operations, clock)
    processor = IncidentProcessor(
        engine,
        evaluator=routing,
        incidents=storage.incidents,
        notify_channels=config.notify_channels,
        maintenance=maintenance,
    )
    return Loaded(
        config=config,
        source=source,
        digest=digest,
        loaded_at=clock.now(),
        auth=auth if auth is not None else Authenticator(config.server),
        routing=routing,
        processor=processor,
        inbound=Inbound(config.integrations, registry, processor, clock=clock),
        schedules={schedule.id: compile_schedule(schedule, registry) for schedule in config.schedules},
        ack_limit=RateLimiter(config.server.ack_rate_limit.per_minute, clock=clock),
        people=config.people(),
        maintenance=maintenance,
    )
