"""The service behind the API: one engine, one incident processor, the compiled schedules, and the
operations the endpoints call, each checking everything before it writes anything.

Handlers run in the event loop's thread (never in a thread pool), like the engine's monitor, so the engine
and the stores see one caller at a time. Only routing, which reads neither, runs in a worker thread when a
rule has a slow condition (see :mod:`.offload`): a slow regex condition holds up no other request.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

import attrs

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.convert import make_converter
from tocsin.errors import ConfigError
from tocsin.escalation.engine import EscalationEngine
from tocsin.incidents import incident_from_json
from tocsin.intake.inbound import Inbound
from tocsin.intake.processor import IncidentProcessor, IncidentUpdate, ProcessResult
from tocsin.intake.reconciler import Reconciliation, reconcile
from tocsin.manager import Plugins
from tocsin.models import EscalationState, Incident, IncidentState
from tocsin.schedules.resolver import ScheduleResolver, compile_schedule
from tocsin.server.auth import Authenticator
from tocsin.server.errors import ApiError, from_config_error, invalid
from tocsin.server.guards import instant_faults
from tocsin.server.metrics import Metrics
from tocsin.server.offload import OffloadedRouting
from tocsin.server.ratelimit import RateLimiter
from tocsin.server.storage import Storage
from tocsin.server.views import IncidentDetail, IncidentPage, MatchedRule, RouteAnswer, public_state, response_converter
from tocsin.store.errors import StoreError
from tocsin.store.group import Commits, GroupCommit, Inline

__all__ = ["MAX_ID_LENGTH", "Service", "default_instance_id"]

MAX_ID_LENGTH = 200  # an incident id must fit in a URL path segment


def default_instance_id() -> str:
    """The name an instance goes by unless the config gives one: its host and process id (``db-1-4242``)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Service:
    """Everything one app serves, built once from a loaded config.

    :param auth: the token checker (default: built from ``config.server``).
    :raises ServerError: when the server settings cannot be used (no tokens, an unset token variable).
    """

    def __init__(
        self, config: Config, plugins: Plugins, storage: Storage, clock: Clock, *, auth: Authenticator | None = None
    ) -> None:
        registry = plugins.registry
        settings = config.server
        self.config = config
        self.plugins = plugins
        self.storage = storage
        self.clock = clock
        self.auth = auth if auth is not None else Authenticator(settings)
        self.instance_id = settings.instance_id or default_instance_id()
        self.engine = EscalationEngine(
            plugins,
            storage.escalations,
            clock=clock,
            config=config,
            instance_id=self.instance_id,
            lease_seconds=config.storage.lease_seconds,
            recover_open=storage.adopt_on_start,
        )
        if storage.shared:  # other processes may run on this store: look for the due work they left, often
            self.engine.with_check_interval(min(self.engine.monitor.check_interval, config.storage.claim_every_seconds))
        self.routing = OffloadedRouting(registry, config.rules, policies=config.policy, playbook_specs=config.playbooks)
        self.processor = IncidentProcessor(
            self.engine, evaluator=self.routing, incidents=storage.incidents, notify_channels=config.notify_channels
        )
        self.inbound = Inbound(config.integrations, registry, self.processor, clock=clock)  # POST /v1/integrations
        self.schedules: dict[str, ScheduleResolver] = {s.id: compile_schedule(s, registry) for s in config.schedules}
        self.ack_limit = RateLimiter(settings.ack_rate_limit.per_minute, clock=clock)
        self.metrics = Metrics(self.engine, storage.escalations, storage.incidents)
        self.reader = make_converter(registry)
        self.writer = response_converter(registry)
        self.max_body_bytes = settings.max_body_bytes
        self.body_timeout = settings.body_timeout_seconds
        self.lock_wait = config.storage.lock_wait_seconds
        # Writes of concurrent requests share a commit on a file store; in memory a commit costs nothing.
        self.commits: Commits = Inline(storage.escalations)
        if storage.group_commit:
            self.commits = GroupCommit(storage.escalations, durable=storage.sync)
            self.engine.outbox.write_through(self.commits)

    # --- incidents -----------------------------------------------------------------------------------------

    async def create_incident(self, document: Any, *, idempotency_key: str | None = None) -> ProcessResult:
        """Dedup, route and escalate the incident in ``document``; 422 before anything is written when the
        document is not a valid incident, 409 when its ``id`` names an incident that is already closed. A
        retry with an ``idempotency_key`` already used answers with what the first attempt made. The rules
        run in a worker thread when one has a slow condition; the rest in the event loop, the writes in a group
        commit with those of concurrent requests (see :mod:`tocsin.store.group`)."""
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_ID_LENGTH:
            raise invalid([("Idempotency-Key", f"must be 1 to {MAX_ID_LENGTH} characters")], location="header")
        if not isinstance(document, dict):
            raise invalid([("$", "expected a JSON object with the incident's fields")])
        if "created_at" not in document:
            document = {**document, "created_at": self.clock.now().isoformat()}
        try:
            incident = incident_from_json(document, source="body")
        except ConfigError as exc:
            raise from_config_error(exc) from None
        faults = instant_faults(incident, document)
        if faults:
            raise invalid(faults)
        if not incident.id or "/" in incident.id or len(incident.id) > MAX_ID_LENGTH:
            raise invalid([("$.id", f"must be 1 to {MAX_ID_LENGTH} characters without '/'")])
        known = self._not_closed(incident.id)

        def process() -> ProcessResult:
            self._not_closed(incident.id)  # again, in the unit of work: the store may have changed meanwhile
            return self.processor.process(incident, idempotency_key=idempotency_key)

        if not self.routing.offloads or self._repeats(incident, known):
            # Routed in place by the processor (plain rules), or not routed at all (a repeat).
            result = await self.commits.run(process)
        else:
            async with self.routing.routed_ahead(incident):
                result = await self.commits.run(process)
        outcome = "replayed" if result.replayed else "duplicate" if result.duplicate else "created"
        self.metrics.incidents_received.labels(outcome).inc()
        escalation = public_state(result.escalation) if result.escalation is not None else None
        return attrs.evolve(result, escalation=escalation)

    def reconcile(self) -> Reconciliation:
        """One reconciler pass over the store (see :mod:`tocsin.intake.reconciler`), counted in /metrics."""
        done = reconcile(self.processor)
        if done.started:
            self.metrics.reconciler_repairs.labels("started").inc(len(done.started))
        if done.resolved:
            self.metrics.reconciler_repairs.labels("resolved").inc(len(done.resolved))
        return done

    def incident(self, incident_id: str) -> IncidentDetail:
        """The incident, its repeat count and its escalation; 404 naming the id when there is none."""
        incident = self._known(incident_id)
        state = self.engine.get_escalation_state(incident_id)
        return IncidentDetail(
            incident=incident,
            duplicates=self.storage.incidents.duplicates(incident_id),
            escalation=public_state(state) if state is not None else None,
        )

    def incidents(self, *, open_only: bool, limit: int, offset: int) -> IncidentPage:
        """One page of incidents, newest first."""
        found = self.storage.incidents.list_incidents(open_only=open_only, limit=limit + 1, offset=offset)
        more = len(found) > limit
        return IncidentPage(
            incidents=tuple(found[:limit]), offset=offset, limit=limit, next_offset=offset + limit if more else None
        )

    def update_incident(self, incident_id: str, changes: dict[str, object], by: str | None) -> IncidentUpdate:
        """Change an open incident's title, description, severity or labels and run the routing rules again over
        it (see ``IncidentProcessor.update_incident``; an empty patch changes nothing); 404 when unknown, 409 when
        resolved or closed."""
        incident = self._known(incident_id)
        if not incident.state.is_open:
            raise ApiError(409, f"incident {incident_id!r} is {incident.state.value}; it cannot be changed")
        update = self.processor.update_incident(incident_id, changes, by=by)
        escalation = public_state(update.escalation) if update.escalation is not None else None
        return attrs.evolve(update, escalation=escalation)

    # --- responding ----------------------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, by: str | None) -> IncidentDetail:
        """``by`` acknowledges the incident's escalation (active, or exhausted: completed); 429 over the
        per-incident rate limit, 409 when it is already acknowledged, resolved or cancelled."""
        self._known(incident_id)
        wait = self.ack_limit.hit(incident_id)
        if wait is not None:
            raise ApiError(
                429,
                f"incident {incident_id!r}: too many acknowledgements; try again in {wait:g} seconds",
                headers={"Retry-After": str(int(wait))},
            )
        try:
            self._escalation(incident_id)
            self.engine.acknowledge_escalation(incident_id, by or "api")
        except StoreError:
            self.ack_limit.take_back(incident_id)  # the store changed nothing, and the request may be run again
            raise
        return self.incident(incident_id)

    def resolve(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Mark the incident Resolved and resolve its escalation; resolving twice is harmless, resolving a
        Closed incident is a 409."""
        incident = self._known(incident_id)
        if incident.state is IncidentState.CLOSED:
            raise ApiError(409, f"incident {incident_id!r} is Closed; it cannot be resolved again")
        if incident.state is not IncidentState.RESOLVED:
            self.processor.resolve_incident(incident_id, by=by)
        return self.incident(incident_id)

    def cancel(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Stop the escalation without resolving the incident; 409 when it already ended otherwise."""
        self._known(incident_id)
        self._escalation(incident_id)
        self.engine.cancel_escalation(incident_id, by=by)
        return self.incident(incident_id)

    def escalate(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Fire the next level now (an exhausted escalation: what its ``on_exhausted`` says); 409 when the
        escalation is resolved or cancelled, or has no level left."""
        self._known(incident_id)
        self._escalation(incident_id)
        self.engine.escalate_now(incident_id, by=by)
        return self.incident(incident_id)

    def snooze(self, incident_id: str, minutes: int, by: str | None) -> IncidentDetail:
        """Snooze the acknowledged (or exhausted) escalation: unresolved after ``minutes``, it pages again; 409
        when it is active and not acknowledged, or over."""
        self._known(incident_id)
        self._escalation(incident_id)
        self.engine.snooze(incident_id, minutes, by=by)
        return self.incident(incident_id)

    def escalation(self, incident_id: str) -> EscalationState:
        """The incident's escalation with its notifications, their delivery results, and its journal; 404
        when the incident is unknown or never escalated."""
        self._known(incident_id)
        state = self.engine.get_escalation_state(incident_id)
        if state is None:
            raise ApiError(404, f"incident {incident_id!r} has no escalation (no policy applied to it)")
        return public_state(state)

    # --- schedules and rules -------------------------------------------------------------------------------

    def schedule(self, schedule_id: str) -> ScheduleResolver:
        """The compiled schedule; 404 listing the known ids."""
        resolver = self.schedules.get(schedule_id)
        if resolver is None:
            known = ", ".join(sorted(self.schedules)) or "(none)"
            raise ApiError(404, f"no schedule {schedule_id!r}; known: {known}")
        return resolver

    def span(
        self, resolver: ScheduleResolver, start: datetime | None, end: datetime | None, default: timedelta
    ) -> tuple[datetime, datetime]:
        """``(start, end)`` in the schedule's time zone (naive values are its local time); 422 when the
        range is empty or longer than a year."""
        low = resolver.localize(start if start is not None else self.clock.now())
        high = resolver.localize(end) if end is not None else low + default
        if high <= low:
            raise invalid([("end", f"must be after start ({low.isoformat()})")], location="query")
        if high - low > timedelta(days=366):
            raise invalid([("end", "the range may be at most 366 days long")], location="query")
        return low, high

    async def evaluate(self, incident: Incident, explain: bool) -> RouteAnswer:
        """Route ``incident`` as a dry run: nothing is stored, delivered or started. The rules run in a worker
        thread."""
        explanation = await self.routing.explain_ahead(incident)
        result = explanation.result
        policy = self.engine.find_policy_for_incident(result.incident, result.policy_id)
        return RouteAnswer(
            matched=tuple(MatchedRule(rule=rule.name, priority=rule.priority) for rule in result.matched),
            incident=result.incident,
            policy=policy.id if policy is not None else None,
            notify_channels=result.notify_channels,
            suppress_minutes=result.suppress_minutes,
            explain=tuple(explanation.to_json()) if explain else (),
        )

    # --- lookups -------------------------------------------------------------------------------------------

    def _not_closed(self, incident_id: str) -> Incident | None:
        """The stored incident ``incident_id`` (None when there is none); 409 when it is resolved or closed."""
        known = self.processor.get_incident(incident_id)
        if known is not None and not known.state.is_open:
            raise ApiError(
                409, f"incident {incident_id!r} exists and is {known.state.value}; post a new incident without 'id'"
            )
        return known

    def _repeats(self, incident: Incident, known: Incident | None) -> bool:
        """Whether ``incident`` repeats an open one (``known`` is the stored incident with its id), which the
        processor folds in without routing. A guess made before the processor's unit of work: it decides
        again, so a wrong guess only costs time."""
        if incident.dedup_key and self.storage.incidents.find_open(incident.dedup_key) is not None:
            return True
        return known is not None and known.state.is_open

    def _known(self, incident_id: str) -> Incident:
        incident = self.processor.get_incident(incident_id)
        if incident is None:
            raise ApiError(404, f"no incident {incident_id!r}")
        return incident

    def _escalation(self, incident_id: str) -> EscalationState:
        state = self.engine.get_escalation_state(incident_id)
        if state is None:
            raise ApiError(409, f"incident {incident_id!r} has no escalation (no policy applied to it)")
        return state
