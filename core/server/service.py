"""The service behind the API: one engine, one incident processor, the compiled schedules, and the
operations the endpoints call, each checking everything before it writes anything.

Handlers run in the event loop's thread (never in a thread pool), like the engine's monitor, so the engine
and the stores see one caller at a time. Only routing, which reads neither, runs in a worker thread when a
rule has a slow condition (see :mod:`.offload`): a slow regex condition holds up no other request.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.convert import make_converter
from tocsin.delivery.links import ActionLinks
from tocsin.errors import ConfigError, ConfigIssue, TocsinError
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.overrides import RuntimeOverrides
from tocsin.incidents import incident_from_json
from tocsin.intake.heartbeats import HeartbeatMonitor
from tocsin.intake.inbound import Inbound
from tocsin.intake.processor import IncidentProcessor, IncidentUpdate, ProcessResult
from tocsin.intake.reconciler import Reconciliation, reconcile
from tocsin.manager import Plugins
from tocsin.models import Change, EscalationState, Incident, IncidentState
from tocsin.observers import Observers
from tocsin.schedules.resolver import ScheduleResolver
from tocsin.server.auth import Authenticator
from tocsin.server.errors import ApiError, ServerError, from_config_error, invalid
from tocsin.server.guards import instant_faults
from tocsin.server.incident_search import parse_filter, search_incidents
from tocsin.server.loaded import config_digest, load_parts
from tocsin.server.metrics import Metrics
from tocsin.server.offload import OffloadedRouting
from tocsin.server.ratelimit import RateLimiter
from tocsin.server.reload import ReloadRefused, keep_running_settings, read_config, restart_only_faults
from tocsin.server.responder import PageResponder
from tocsin.server.storage import Storage
from tocsin.server.timeline import incident_timeline
from tocsin.server.views import (
    ConfigReloaded,
    IncidentDetail,
    IncidentPage,
    MatchedRule,
    NoteRequest,
    OverrideRequest,
    ReassignRequest,
    RouteAnswer,
    Timeline,
    response_converter,
)
from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.group import Commits, GroupCommit, Inline
from tocsin.store.records import IncidentNote, ScheduleOverride, new_id

__all__ = ["MAX_ID_LENGTH", "Service", "default_instance_id"]

MAX_ID_LENGTH = 200  # an incident id must fit in a URL path segment


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ServerError(f"cannot read the config file {path}: {exc.strerror or exc}") from None


def default_instance_id() -> str:
    """The name an instance goes by unless the config gives one: its host and process id (``db-1-4242``)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Service:
    """Everything one app serves, built once from a loaded config; :meth:`reload` swaps the config.

    :param auth: the token checker (default: built from ``config.server``).
    :param source: the file ``config`` was read from (what a reload reads again; None: it cannot be reloaded).
    :raises ServerError: when the server settings cannot be used (no tokens, an unset token variable).
    """

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        storage: Storage,
        clock: Clock,
        *,
        auth: Authenticator | None = None,
        source: str | Path | None = None,
    ) -> None:
        plugins = plugins.configured(config.plugins)
        settings = config.server
        self.plugins = plugins
        self.storage = storage
        self.clock = clock
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
        self.links: ActionLinks | None = None  # pages carry action links only with a public URL
        if settings.public_url is not None:
            try:
                self.links = ActionLinks.from_settings(settings.public_url, settings.action_links, clock)
            except LookupError as exc:
                raise ServerError(f"{exc} (server.action_links; server.public_url asks for action links)") from None
        self.engine.outbox.use_links(self.links)
        if storage.shared:  # other processes may run on this store: look for the due work they left, often
            self.engine.with_check_interval(min(self.engine.monitor.check_interval, config.storage.claim_every_seconds))
        # Told when other instances' work comes due (PostgreSQL): the monitor wakes then, not only at its poll.
        monitor = self.engine.monitor
        self.announcements = (
            storage.announcements(monitor.expect, monitor.wake) if storage.announcements is not None else None
        )
        self.overrides = RuntimeOverrides(storage.operations, clock)
        self.engine.executor().use_overrides(self.overrides.in_force)
        path = Path(source) if source is not None else None
        text = _read_bytes(path) if path is not None else None
        #: The config and everything compiled from it: ONE reference, replaced whole by :meth:`reload`.
        self.loaded = load_parts(
            config,
            plugins,
            self.engine,
            storage,
            clock,
            source=path,
            digest=config_digest(config, plugins, text),
            auth=auth,
        )
        self._observers = Observers(plugins.hook, plugins.settings)
        #: The heartbeat monitors' deadlines, run by the engine's monitor; configured again at each reload.
        self.heartbeats = HeartbeatMonitor(
            storage.operations,
            storage.escalations,
            clock,
            report=lambda kind, subject, detail: self.record(kind, subject, None, **detail),
        )
        self.heartbeats.configure(config.heartbeats, self.loaded.processor)
        self.engine.monitor.add_timer(self.heartbeats)
        self.metrics = Metrics(self.engine, storage.escalations, storage.incidents, self.announcements)
        self.reader = make_converter(plugins.registry)
        self.writer = response_converter(plugins.registry)
        self.lock_wait = config.storage.lock_wait_seconds
        # Writes of concurrent requests share a commit on a file store; in memory a commit costs nothing.
        self.commits: Commits = Inline(storage.escalations)
        if storage.group_commit:
            self.commits = GroupCommit(storage.escalations, durable=storage.sync)
            self.engine.outbox.write_through(self.commits)
        self._responder: tuple[object, PageResponder] | None = None  # (the loaded parts it was made for, it)

    # --- what the loaded config gives (each read from the one current reference) ---------------------------

    @property
    def responder(self) -> PageResponder:
        """Acts for action links and channels' interactions, with the processor and people of the config in
        force (made again after a reload)."""
        loaded = self.loaded
        if self._responder is None or self._responder[0] is not loaded:
            responder = PageResponder(self.engine, loaded.processor, self.commits, self.clock, loaded.config.users)
            self._responder = (loaded, responder)
        return self._responder[1]

    @property
    def config(self) -> Config:
        """The config in force."""
        return self.loaded.config

    @property
    def auth(self) -> Authenticator:
        """The token checker of the config in force."""
        return self.loaded.auth

    @property
    def routing(self) -> OffloadedRouting:
        """The routing rules of the config in force."""
        return self.loaded.routing

    @property
    def processor(self) -> IncidentProcessor:
        """The incident processor of the config in force."""
        return self.loaded.processor

    @property
    def inbound(self) -> Inbound:
        """The inbound integrations of the config in force."""
        return self.loaded.inbound

    @property
    def schedules(self) -> dict[str, ScheduleResolver]:
        """The compiled schedules of the config in force, by id."""
        return self.loaded.schedules

    @property
    def ack_limit(self) -> RateLimiter:
        """The acknowledgement rate limit of the config in force."""
        return self.loaded.ack_limit

    @property
    def max_body_bytes(self) -> int:
        """The largest request body taken."""
        return self.loaded.config.server.max_body_bytes

    @property
    def body_timeout(self) -> float:
        """How long a request body may take to arrive (seconds)."""
        return self.loaded.config.server.body_timeout_seconds

    # --- changes made at run time -------------------------------------------------------------------------

    def record(self, kind: str, subject: str, by: str | None, **detail: Any) -> None:
        """Tell the ``tocsin_change_recorded`` observers (the audit log) about a change that has committed."""
        change = Change(kind=kind, subject=subject, at=self.clock.now(), by=by, detail=detail)
        Observers.emit(self._observers.change_recorded, change=change)

    def reload(self, *, by: str | None = None) -> ConfigReloaded:
        """Read the config file again and, if it loads, checks and compiles without a fault, take it in place of
        the one in force, at once (see :mod:`tocsin.server.reload` for what changes when).

        :raises ReloadRefused: every fault (nothing was changed).
        :raises ApiError: 409 when the server was given a config, not a file.
        """
        current = self.loaded
        if current.source is None:
            raise ApiError(409, "this server was handed its config, not a file: there is nothing to reload")
        source = str(current.source)
        try:
            config, text = read_config(current.source, self.plugins.registry)
        except ConfigError as exc:
            raise ReloadRefused(exc.issues) from None
        faults = tuple(restart_only_faults(current.config, config, source))
        if faults:
            raise ReloadRefused(faults)
        config = keep_running_settings(current.config, config)
        digest = config_digest(config, self.plugins, text)
        try:
            loaded = load_parts(
                config, self.plugins, self.engine, self.storage, self.clock, source=current.source, digest=digest
            )
            self.engine.replace_config(config)  # compiles everything first; changes nothing if anything fails
        except TocsinError as exc:
            raise ReloadRefused((ConfigIssue(source, "$", str(exc)),)) from None
        self.loaded = loaded  # the swap: every request from here on sees the new config
        self.heartbeats.configure(config.heartbeats, loaded.processor)  # its secrets were read by load_parts
        changed = digest != current.digest
        self.record("config.reloaded", source, by, config_hash=digest, changed=changed)
        return ConfigReloaded(source=source, config_hash=digest, loaded_at=loaded.loaded_at, changed=changed)

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
        loaded = self.loaded  # one config for the whole request, even if a reload lands while it waits

        def process() -> ProcessResult:
            self._not_closed(incident.id)  # again, in the unit of work: the store may have changed meanwhile
            return loaded.processor.process(incident, idempotency_key=idempotency_key)

        if not loaded.routing.offloads or self._repeats(incident, known):
            # Routed in place by the processor (plain rules), or not routed at all (a repeat).
            result = await self.commits.run(process)
        else:
            async with loaded.routing.routed_ahead(incident):
                result = await self.commits.run(process)
        outcome = "replayed" if result.replayed else "duplicate" if result.duplicate else "created"
        self.metrics.incidents_received.labels(outcome).inc()
        return result

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
        incident = self.known(incident_id)
        state = self.engine.get_escalation_state(incident_id)
        held = self.storage.operations.suppression(incident_id)
        return IncidentDetail(
            incident=incident,
            duplicates=self.storage.incidents.duplicates(incident_id),
            escalation=state,
            suppressed="maintenance" if held is not None else None,
            suppression=held,
        )

    def incidents(self, params: Mapping[str, Any]) -> IncidentPage:
        """One page of incidents, newest first, as the query ``params`` ask (see :mod:`.incident_search`)."""
        return search_incidents(
            self.storage.incidents,
            self.storage.escalations,
            parse_filter(params),
            limit=params.get("limit", 50),
            offset=params.get("offset", 0),
            cursor=params.get("cursor"),
        )

    def update_incident(self, incident_id: str, changes: dict[str, object], by: str | None) -> IncidentUpdate:
        """Change an open incident's title, description, severity or labels and run the routing rules again over
        it (see ``IncidentProcessor.update_incident``; an empty patch changes nothing); 404 when unknown, 409 when
        resolved or closed."""
        incident = self.known(incident_id)
        if not incident.state.is_open:
            raise ApiError(409, f"incident {incident_id!r} is {incident.state.value}; it cannot be changed")
        return self.processor.update_incident(incident_id, changes, by=by)

    # --- responding ----------------------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, by: str | None) -> IncidentDetail:
        """``by`` acknowledges the incident's escalation (active, or exhausted: completed); 429 over the
        per-incident rate limit, 409 when it is already acknowledged, resolved or cancelled."""
        self.known(incident_id)
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
        incident = self.known(incident_id)
        if incident.state is IncidentState.CLOSED:
            raise ApiError(409, f"incident {incident_id!r} is Closed; it cannot be resolved again")
        if incident.state is not IncidentState.RESOLVED:
            self.processor.resolve_incident(incident_id, by=by)
        return self.incident(incident_id)

    def cancel(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Stop the escalation without resolving the incident; 409 when it already ended otherwise."""
        self.known(incident_id)
        self._escalation(incident_id)
        self.engine.cancel_escalation(incident_id, by=by)
        return self.incident(incident_id)

    def escalate(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Fire the next level now (an exhausted escalation: what its ``on_exhausted`` says); 409 when the
        escalation is resolved or cancelled, or has no level left."""
        self.known(incident_id)
        self._escalation(incident_id)
        self.engine.escalate_now(incident_id, by=by)
        return self.incident(incident_id)

    def snooze(self, incident_id: str, minutes: int, by: str | None) -> IncidentDetail:
        """Snooze the acknowledged (or exhausted) escalation: unresolved after ``minutes``, it pages again; 409
        when it is active and not acknowledged, or over."""
        self.known(incident_id)
        self._escalation(incident_id)
        self.engine.snooze(incident_id, minutes, by=by)
        return self.incident(incident_id)

    # --- working an incident (each a whole request: checked, committed, then told to the audit log) ----------

    async def add_note(self, incident_id: str, request: NoteRequest, by: str | None) -> IncidentNote:
        """Keep ``request.text`` with the incident, written by ``request.by`` (else ``by``); 404 for an unknown
        incident."""
        self.known(incident_id)
        note = IncidentNote(
            id=new_id(), incident_id=incident_id, at=self.clock.now(), by=request.by or by, text=request.text
        )
        await self.commits.run(lambda: self.storage.operations.add_note(note))
        self.record("incident.note_added", incident_id, note.by, note=note.id)
        return note

    async def reassign(self, incident_id: str, request: ReassignRequest, by: str | None) -> IncidentDetail:
        """Restart the incident's escalation on ``request.user`` or ``request.policy``; 422 naming the field when
        it is not a person the config knows or a configured policy, 409 when the incident is not open."""
        self.known(incident_id)  # an unknown incident is a 404 whatever the request says
        by = request.by or by
        engine = self.engine
        if request.user is not None and request.user not in self.loaded.people:
            known_people = "its users, teams and schedules"
            raise invalid([("$.user", f"{request.user!r} is not a person the config knows ({known_people})")])
        if request.policy is not None and engine.get_policy(request.policy) is None:
            known = ", ".join(policy.id for policy in engine.policies()) or "(none)"
            raise invalid([("$.policy", f"unknown policy {request.policy!r}; known: {known}")])

        def reassign() -> IncidentDetail:
            incident = self.known(incident_id)
            if not incident.state.is_open:
                raise ApiError(409, f"incident {incident_id!r} is {incident.state.value}: there is nothing to reassign")
            if request.user is not None:
                incident = attrs.evolve(incident, assignees=(request.user,))
                self.storage.incidents.save(incident)
            engine.reassign(incident, policy_id=request.policy, person=request.user, by=by)
            return self.incident(incident_id)

        detail = await self.commits.run(reassign)
        target = {"user": request.user} if request.user is not None else {"policy": request.policy}
        self.record("incident.reassigned", incident_id, by, **target)
        return detail

    async def unacknowledge(self, incident_id: str, by: str | None) -> IncidentDetail:
        """Take the acknowledgement back: the escalation goes on at its next level; 409 when it is not
        acknowledged."""
        self.known(incident_id)

        def unacknowledge() -> IncidentDetail:
            self.known(incident_id)
            self.engine.unacknowledge(incident_id, by=by)
            return self.incident(incident_id)

        detail = await self.commits.run(unacknowledge)
        self.record("incident.unacknowledged", incident_id, by)
        return detail

    def timeline(self, incident_id: str) -> Timeline:
        """Everything recorded about the incident, oldest first (see :mod:`.timeline`); 404 when it is unknown."""
        self.known(incident_id)
        storage = self.storage
        return incident_timeline(
            incident_id, self.engine, storage.incidents, storage.operations, playbooks=self.config.playbooks
        )

    def escalation(self, incident_id: str) -> EscalationState:
        """The incident's escalation with its notifications, their delivery results, and its journal; 404
        when the incident is unknown or never escalated."""
        self.known(incident_id)
        state = self.engine.get_escalation_state(incident_id)
        if state is None:
            raise ApiError(404, f"incident {incident_id!r} has no escalation (no policy applied to it)")
        return state

    # --- schedules and rules -------------------------------------------------------------------------------

    def schedule(self, schedule_id: str) -> ScheduleResolver:
        """The compiled schedule; 404 listing the known ids."""
        resolver = self.schedules.get(schedule_id)
        if resolver is None:
            known = ", ".join(sorted(self.schedules)) or "(none)"
            raise ApiError(404, f"no schedule {schedule_id!r}; known: {known}")
        return resolver

    async def add_override(self, schedule_id: str, request: OverrideRequest, by: str | None) -> ScheduleOverride:
        """Put ``request.user`` on call instead from ``request.start`` (default: now) until ``request.end``, made
        by ``request.by`` (else ``by``); 404 for an unknown schedule, 422 naming each faulty field, 409 when
        ``request.id`` is taken."""
        resolver = self.schedule(schedule_id)
        by = request.by or by

        def add() -> ScheduleOverride:
            return self.overrides.add(
                resolver,
                user=request.user,
                start=request.start,
                end=request.end,
                layer=request.layer,
                note=request.note,
                by=by,
                people=self.loaded.people,
                override_id=request.id,
            )

        try:
            made = await self.commits.run(add)
        except ConfigError as exc:
            raise from_config_error(exc) from None
        except StaleStateError:
            raise ApiError(409, f"an override with id {request.id!r} exists already") from None
        self.record(
            "override.created",
            resolver.schedule.id,
            by,
            override=made.id,
            user=made.user,
            start=made.start.isoformat(),
            end=made.end.isoformat(),
            layer=made.layer,
        )
        return made

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

    def known(self, incident_id: str) -> Incident:
        """The stored incident; 404 naming the id when there is none."""
        incident = self.processor.get_incident(incident_id)
        if incident is None:
            raise ApiError(404, f"no incident {incident_id!r}")
        return incident

    def _escalation(self, incident_id: str) -> EscalationState:
        state = self.engine.get_escalation_state(incident_id)
        if state is None:
            raise ApiError(409, f"incident {incident_id!r} has no escalation (no policy applied to it)")
        return state
