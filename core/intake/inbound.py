"""Inbound integrations, the applying side: authenticate a caller, read its payload, apply the events.

:class:`Inbound` is built once from the config's ``integrations`` (each source compiled to its parser then;
nothing goes through pluggy per request). ``receive(name, body)`` is atomic per request: the source reads
the whole body and every event is turned into a checked incident *before* anything changes, so a malformed
payload raises :class:`~tocsin.integrations.events.PayloadError` and changes nothing. Then, in order:

- ``create``: the incident processor's dedup decides: a new incident (routed, escalated) or one more repeat
  of the open incident with the same key;
- ``update``: the open incident with the key gets the new title, description, labels and payload (no
  re-routing, no repeat counted); with none open it is a ``create``;
- ``resolve``: the open incident with the key is resolved, which resolves its escalation; with none open
  (already resolved, or never seen) nothing happens.

Dedup keys are the integration's name, ``/``, and the source's key, so integrations never share incidents.
Calls are not thread-safe: make them from the thread (event loop) that runs the engine.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import structlog

from tocsin.clock import Clock, SystemClock
from tocsin.errors import TocsinError
from tocsin.intake.processor import IncidentProcessor
from tocsin.integrations.events import EventAction, IncidentEvent, Integration, PayloadError
from tocsin.models import FieldError, Incident
from tocsin.registry import Registry

__all__ = [
    "EventOutcome",
    "EventResult",
    "Inbound",
    "IntegrationSetupError",
    "Receipt",
    "SourceError",
    "UnknownIntegrationError",
]

_log = structlog.get_logger(component="inbound")  # lazy: the logging configured later applies


class UnknownIntegrationError(TocsinError, LookupError):
    """No integration of that name is configured."""


class SourceError(TocsinError):
    """A source plugin failed in a way that is not the payload's fault (a bug in the plugin)."""


class IntegrationSetupError(TocsinError):
    """An integration cannot be served: its ``token_env`` variable is unset or too short."""


class EventResult(enum.StrEnum):
    """What applying one event did."""

    CREATED = "created"  # a new incident was opened
    DUPLICATE = "duplicate"  # the open incident with the key counted one more repeat
    UPDATED = "updated"  # the open incident with the key was refreshed
    RESOLVED = "resolved"  # the open incident with the key was resolved (and its escalation)
    IGNORED = "ignored"  # a resolve with no open incident for the key


@attrs.frozen(kw_only=True)
class EventOutcome:
    """One event and what it did."""

    action: EventAction
    result: EventResult
    dedup_key: str
    incident_id: str | None = None
    duplicates: int = 0
    policy_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"action", "result", "dedup_key", "incident_id", "duplicates", "policy_id"}``."""
        return {
            "action": self.action.value,
            "result": self.result.value,
            "dedup_key": self.dedup_key,
            "incident_id": self.incident_id,
            "duplicates": self.duplicates,
            "policy_id": self.policy_id,
        }


@attrs.frozen(kw_only=True)
class Receipt:
    """What one request to an integration did, event by event, in payload order."""

    integration: str
    outcomes: tuple[EventOutcome, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"integration": name, "outcomes": [outcome, …]}``."""
        return {"integration": self.integration, "outcomes": [outcome.to_json() for outcome in self.outcomes]}


@attrs.frozen
class _Compiled:
    name: str
    token: bytes
    integration: Integration
    parse: Callable[[Any], Sequence[IncidentEvent]]


@attrs.frozen
class _Step:
    event: IncidentEvent
    key: str
    incident: Incident | None  # None for a resolve


class Inbound:
    """The configured integrations, compiled, applying their events through ``processor``.

    :param integrations: name -> integration (``Config.integrations``); secrets are read now.
    :param registry: the loaded plugins' registry (its ``sources`` compile the integrations).
    :param processor: the incident processor events go through.
    :param clock: where ``created_at`` of new incidents comes from (pass the engine's clock; default: system).
    :raises IntegrationSetupError: an integration's ``token_env`` variable is unset or too short.
    """

    def __init__(
        self,
        integrations: Mapping[str, Integration],
        registry: Registry,
        processor: IncidentProcessor,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._processor = processor
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._compiled: dict[str, _Compiled] = {}
        for name, integration in integrations.items():
            try:
                secret = integration.secret()
            except LookupError as exc:
                raise IntegrationSetupError(f"integration {name!r}: {exc}") from None
            parse = registry.sources.get(integration.type).compile(integration.source)
            self._compiled[name] = _Compiled(name, secret.encode("utf-8"), integration, parse)

    def names(self) -> list[str]:
        """The configured integration names, sorted."""
        return sorted(self._compiled)

    def __contains__(self, name: object) -> bool:
        return name in self._compiled

    def integration(self, name: str) -> Integration:
        """The configured integration ``name``; ``UnknownIntegrationError`` if there is none."""
        return self._get(name).integration

    def authorize(self, name: str, token: str | None) -> bool:
        """True when ``token`` is the integration's token (compared in constant time)."""
        compiled = self._get(name)
        return token is not None and hmac.compare_digest(token.encode("utf-8"), compiled.token)

    def receive(self, name: str, body: Any) -> Receipt:
        """Read ``body`` (decoded JSON) with the integration's source and apply its events; see the module docs.

        :raises UnknownIntegrationError: no integration ``name``.
        :raises PayloadError: the body cannot be read (nothing was changed).
        :raises SourceError: the source plugin failed (nothing was changed).
        """
        compiled = self._get(name)
        steps = [self._prepare(compiled, event) for event in self._parse(compiled, body)]
        outcomes = tuple(self._apply(compiled, step) for step in steps)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.result.value] = counts.get(outcome.result.value, 0) + 1
        _log.info("integration payload applied", integration=name, events=len(outcomes), **counts)
        return Receipt(integration=name, outcomes=outcomes)

    # --- internals ---------------------------------------------------------------------------------------

    def _get(self, name: str) -> _Compiled:
        compiled = self._compiled.get(name)
        if compiled is None:
            raise UnknownIntegrationError(f"no integration named {name!r}")
        return compiled

    def _parse(self, compiled: _Compiled, body: Any) -> list[IncidentEvent]:
        source = compiled.integration.type
        try:
            events = list(compiled.parse(body))
        except PayloadError:
            raise
        except FieldError as exc:  # an event the source built from payload values the event refuses
            raise PayloadError("$", f"{exc.field}: {exc.message}") from None
        except Exception as exc:
            raise SourceError(
                f"integration {compiled.name!r}: source {source!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        for event in events:
            if not isinstance(event, IncidentEvent):
                raise SourceError(
                    f"integration {compiled.name!r}: source {source!r} returned {event!r}, not an IncidentEvent"
                )
        return events

    def _prepare(self, compiled: _Compiled, event: IncidentEvent) -> _Step:
        key = f"{compiled.name}/{event.dedup_key}"
        if event.action is EventAction.RESOLVE:
            return _Step(event, key, None)
        if not event.title:
            raise PayloadError(event.origin, "the payload gives no title for the incident")
        defaults = compiled.integration.defaults
        try:
            incident = Incident(
                source=defaults.source or compiled.name,
                title=event.title,
                description=event.description or "",
                severity=event.severity or defaults.severity,
                incident_type=event.incident_type or defaults.incident_type,
                assignees=defaults.assignees,
                labels={**defaults.labels, **event.labels},
                payload=event.payload,
                dedup_key=key,
                created_at=self._clock.now(),
            )
        except (FieldError, ValueError, TypeError) as exc:
            raise PayloadError(event.origin, str(exc)) from None
        return _Step(event, key, incident)

    def _apply(self, compiled: _Compiled, step: _Step) -> EventOutcome:
        processor = self._processor
        action = step.event.action
        existing = processor.incidents.find_open(step.key) if action is not EventAction.CREATE else None
        if action is EventAction.RESOLVE:
            if existing is None:
                return EventOutcome(action=action, result=EventResult.IGNORED, dedup_key=step.key)
            processor.resolve_incident(existing.id, by=f"integration:{compiled.name}")
            return EventOutcome(action=action, result=EventResult.RESOLVED, dedup_key=step.key, incident_id=existing.id)
        assert step.incident is not None
        if existing is not None:  # an update of an open incident
            fresh = step.incident
            changed = attrs.evolve(
                existing, title=fresh.title, description=fresh.description, labels=fresh.labels, payload=fresh.payload
            )
            processor.incidents.save(changed)
            return EventOutcome(
                action=action,
                result=EventResult.UPDATED,
                dedup_key=step.key,
                incident_id=existing.id,
                duplicates=processor.incidents.duplicates(existing.id),
            )
        result = processor.process(step.incident, integration=compiled.name)
        return EventOutcome(
            action=action,
            result=EventResult.DUPLICATE if result.duplicate else EventResult.CREATED,
            dedup_key=step.key,
            incident_id=result.incident.id,
            duplicates=result.duplicates,
            policy_id=result.policy_id,
        )
