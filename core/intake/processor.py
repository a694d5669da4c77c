"""The incident processor: dedup, routing for real, policy choice, escalation start, and incident state.

``process(incident)``:

1. an incident whose ``dedup_key`` matches an open incident is a repeat: the open incident's counter goes
   up, nothing else happens (a repeat that says ``Resolved``/``Closed`` resolves the open one);
2. the routing rules run and their actions change the incident; it is stored;
3. the policy is chosen (a ``use_policy`` action first, else the best severity match);
4. the escalation starts; a ``suppress`` holds the whole schedule and the ``notify`` messages back for its
   duration (resolving meanwhile means nobody is paged); ``notify`` channel names resolve through the
   config's ``notify_channels`` (an unknown name goes to the log channel);
5. a maintenance window that holds the incident (see :mod:`tocsin.intake.maintenance`) marks it
   ``suppressed: maintenance``: its escalation is held until the window closes (``on_end: escalate``) or never
   starts (``drop``).
6. the playbooks ``apply_playbook`` chose are queued in the outbox at once (a ``suppress`` holds back pages,
   not automation), each at most once per incident; their deliveries belong to the escalation, if one started.

Resolving or closing an incident by any path (``resolve_incident``, ``close_incident``, ``update_state``, or
a resolved repeat) resolves its escalation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from tocsin.delivery.channels import DEFAULT_CHANNEL
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.errors import EscalationNotActiveError, UnknownIncidentError
from tocsin.intake.maintenance import MaintenanceGate
from tocsin.models import (
    Change,
    ContactSpec,
    EscalationState,
    Incident,
    IncidentState,
    OnEnd,
    PlaybookSpec,
    Recipient,
    RoutingRule,
    Severity,
)
from tocsin.observers import Observers
from tocsin.routing.actions import Effect, RoutingResult
from tocsin.routing.router import RoutingRuleEvaluator
from tocsin.store.interfaces import IncidentStore
from tocsin.store.memory import InMemoryIncidentStore
from tocsin.store.unit import UnitOfWork

if TYPE_CHECKING:
    from tocsin.config import Config

__all__ = ["UPDATABLE", "IncidentProcessor", "IncidentUpdate", "ProcessResult"]


@attrs.frozen(kw_only=True)
class ProcessResult:
    """What ``process`` did with one incident."""

    incident: Incident  # as stored: after routing actions (for a repeat: the open incident it folded into)
    duplicate: bool = False
    replayed: bool = False  # a retry with an Idempotency-Key already used: what the first attempt made
    duplicates: int = 0  # repeats folded into the incident so far
    matched_rules: tuple[str, ...] = ()
    policy_id: str | None = None
    notify_channels: tuple[str, ...] = ()
    suppressed_until: datetime | None = None
    escalation: EscalationState | None = None
    suppressed: str | None = None  # "maintenance": a maintenance window held it (it pages nobody meanwhile)
    maintenance_window: str | None = None  # the id of that window
    actions: tuple[Effect, ...] = ()  # what each matched rule's actions did (applied, ignored or failed, and why)


@attrs.frozen(kw_only=True)
class IncidentUpdate:
    """What ``update_incident`` did: the incident as stored after the change and the rules run again, which
    fields changed, the rules that match now and what their actions did (a dry run: nothing outside the incident
    runs again), and the escalation, which now sees the changed incident."""

    incident: Incident
    changed: tuple[str, ...]
    matched_rules: tuple[str, ...]
    actions: tuple[Effect, ...]
    escalation: EscalationState | None


UPDATABLE = ("title", "description", "severity", "labels")  # what update_incident may change


class IncidentProcessor:
    """Feeds incidents through routing into the escalation engine (the guide's ``IncidentProcessor``).

    :param engine: the escalation engine (its plugins, clock and policies are used).
    :param rules: routing rules, in definition order (or pass a ready ``evaluator``).
    :param incidents: where incidents live (default: in memory).
    :param notify_channels: routing ``notify`` channel name -> contact (``Config.notify_channels``).
    :param maintenance: the maintenance windows new incidents are held by (None: none).
    :param playbooks: playbook id -> settings (``Config.playbooks``) for ``apply_playbook``, when no ``evaluator``
        is given (an evaluator brings its own).
    """

    def __init__(
        self,
        engine: EscalationEngine,
        *,
        rules: Iterable[RoutingRule] = (),
        evaluator: RoutingRuleEvaluator | None = None,
        incidents: IncidentStore | None = None,
        notify_channels: Mapping[str, ContactSpec] | None = None,
        maintenance: MaintenanceGate | None = None,
        playbooks: Mapping[str, PlaybookSpec] | None = None,
    ) -> None:
        self._engine = engine
        self._maintenance = maintenance
        self._routing = evaluator or RoutingRuleEvaluator(
            engine.plugins.registry, rules, policies=engine.get_policy, playbook_specs=playbooks
        )
        if incidents is None:
            unit = engine.store if isinstance(engine.store, UnitOfWork) else None
            incidents = InMemoryIncidentStore(engine.clock, unit=unit)
        self._incidents: IncidentStore = incidents
        self._notify = dict(notify_channels or {})
        self._observers = Observers(engine.plugins.hook if engine.observing else None, engine.plugins.settings)

    @classmethod
    def from_config(
        cls, engine: EscalationEngine, config: Config, *, incidents: IncidentStore | None = None
    ) -> IncidentProcessor:
        """A processor with ``config``'s routing rules, notify channels and playbooks."""
        return cls(
            engine,
            rules=config.rules,
            incidents=incidents,
            notify_channels=config.notify_channels,
            playbooks=config.playbooks,
        )

    @property
    def engine(self) -> EscalationEngine:
        """The escalation engine incidents are escalated on."""
        return self._engine

    @property
    def routing(self) -> RoutingRuleEvaluator:
        """The routing rule evaluator."""
        return self._routing

    @property
    def incidents(self) -> IncidentStore:
        """The incident store."""
        return self._incidents

    def set_escalation_engine(self, engine: EscalationEngine) -> None:
        """Start escalations on ``engine`` from now on (the guide's ``set_escalation_engine``)."""
        self._engine = engine

    def get_incident(self, incident_id: str) -> Incident | None:
        """The stored incident, or None."""
        return self._incidents.get(incident_id)

    def process(
        self, incident: Incident, *, idempotency_key: str | None = None, integration: str | None = None
    ) -> ProcessResult:
        """Dedup, route, store, choose a policy and start the escalation; see the module docs.

        All of it is ONE unit of work on the engine's store: the incident, its escalation, the first pages and
        the journal are saved together or not at all, so a crash or a store fault never leaves an incident
        that will not page. Routing runs before the store's write lock is taken.

        :param idempotency_key: the client's key for this request (the HTTP ``Idempotency-Key``): a retry with
            the same key answers with the incident the first attempt made (``replayed``) instead of raising
            another.
        :param integration: the inbound integration the incident came through (maintenance windows may match
            on it).
        """
        store = self._engine.store
        if idempotency_key:
            replay = self._replay(idempotency_key)
            if replay is not None:
                return replay
        routed = None if self._repeat_of(incident) is not None else self._routing.route(incident)
        with store.atomic():
            if idempotency_key and (replay := self._replay(idempotency_key)) is not None:
                return replay
            repeat = self._repeat_of(incident)  # again, inside the unit of work: the store decides
            if repeat is not None:
                result = self._fold(repeat, incident)
            else:
                result = self._create(routed if routed is not None else self._routing.route(incident), integration)
            if idempotency_key:
                self._incidents.remember_key(idempotency_key, result.incident.id)
        if not result.duplicate:
            self._observers.emit(
                self._observers.incident_processed,
                incident=result.incident,
                matched_rules=result.matched_rules,
                policy_id=result.policy_id,
            )
        if result.maintenance_window is not None and not result.duplicate and not result.replayed:
            held = Change(
                kind="incident.suppressed",
                subject=result.incident.id,
                at=self._engine.clock.now(),
                detail={"window": result.maintenance_window, "until": _iso(result.suppressed_until)},
            )
            self._observers.emit(self._observers.change_recorded, change=held)
        return result

    def _create(self, routed: RoutingResult, integration: str | None = None) -> ProcessResult:
        current = routed.incident
        self._incidents.save(current)
        engine = self._engine
        is_open = current.state.is_open
        policy = engine.find_policy_for_incident(current, routed.policy_id) if is_open else None
        recipients = [self._recipient(name) for name in routed.notify_channels] if is_open else []
        hold = timedelta(minutes=routed.suppress_minutes) if routed.suppress_minutes else None
        gate = self._maintenance
        window = gate.hold_for(current, integration) if gate is not None and is_open else None
        if window is not None:
            assert gate is not None
            gate.remember(current, window)
            if window.window.on_end is OnEnd.DROP:
                policy, recipients = None, []  # never pages
            else:
                hold = max(hold or timedelta(0), window.until - engine.clock.now())
        escalation = None
        if policy is not None:
            escalation = engine.start_escalation(current, policy.id, delay=hold, announce=recipients)
        elif recipients and hold is None:
            engine.notify(current, recipients)
        self._run_playbooks(current, routed, escalation)
        return ProcessResult(
            incident=current,
            matched_rules=tuple(rule.name for rule in routed.matched),
            policy_id=policy.id if policy is not None else None,
            notify_channels=routed.notify_channels,
            suppressed_until=engine.clock.now() + hold if hold else (window.until if window is not None else None),
            escalation=escalation,
            suppressed="maintenance" if window is not None else None,
            maintenance_window=window.window.id if window is not None else None,
            actions=routed.effects,
        )

    def _replay(self, key: str) -> ProcessResult | None:
        incident_id = self._incidents.recall_key(key)
        if incident_id is None:
            return None
        incident = self._incidents.get(incident_id)
        if incident is None:
            return None
        escalation = self._engine.get_escalation_state(incident_id)
        return ProcessResult(
            incident=incident,
            replayed=True,
            duplicates=self._incidents.duplicates(incident_id),
            policy_id=escalation.policy.id if escalation is not None else None,
            escalation=escalation,
        )

    def update_state(self, incident_id: str, state: IncidentState | str, *, by: str | None = None) -> Incident:
        """Move the incident to ``state``; Resolved or Closed resolves its escalation. An open escalation
        sees the new state from now on (levels with ``when`` conditions on ``state``).

        The incident's new state and its escalation's change are ONE unit of work: a resolved incident never
        keeps an active escalation, whatever fails."""
        with self._engine.store.atomic():
            incident = self._incidents.get(incident_id)
            if incident is None:
                raise UnknownIncidentError(f"no incident {incident_id!r}")
            updated = attrs.evolve(incident, state=IncidentState(state))
            self._incidents.save(updated)
            if not updated.state.is_open:
                self._resolve_escalation(incident_id, by)
            else:
                self._engine.update_incident(updated)
        return updated

    def update_incident(
        self, incident_id: str, changes: Mapping[str, object], *, by: str | None = None
    ) -> IncidentUpdate:
        """Change the open incident's ``title``, ``description``, ``severity`` or ``labels``, then run the routing
        rules again over it: the rules that depend on what changed apply their actions to the incident (as a dry
        run: notify, playbooks and the like do not run twice). The escalation keeps its policy (policies never
        change under an escalation in flight), sees the changed incident from now on (levels' ``when``), and
        journals ``incident_updated``. One unit of work. A severity change moves a priority score that was the
        old severity's default to the new one's.

        :raises UnknownIncidentError: no such incident.
        :raises ValueError: a field that cannot be changed, or an incident that is resolved or closed.
        """
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)}; only {', '.join(UPDATABLE)}")
        with self._engine.store.atomic():
            incident = self._incidents.get(incident_id)
            if incident is None:
                raise UnknownIncidentError(f"no incident {incident_id!r}")
            if not incident.state.is_open:
                raise ValueError(f"incident {incident_id!r} is {incident.state.value}; it cannot be changed")
            fields: dict[str, Any] = dict(changes)
            if "severity" in fields and incident.priority_score == incident.severity.rank:
                fields["priority_score"] = Severity(str(fields["severity"])).rank
            changed = tuple(name for name in UPDATABLE if name in changes and getattr(incident, name) != changes[name])
            routed = self._routing.explain(attrs.evolve(incident, **fields)).result
            current = routed.incident
            self._incidents.save(current)
            rules = tuple(rule.name for rule in routed.matched)
            note = f"{', '.join(changed)} changed; rules matching now: {', '.join(rules) or '-'}" if changed else None
            escalation = self._engine.update_incident(current, note=note, by=by)
        return IncidentUpdate(
            incident=current, changed=changed, matched_rules=rules, actions=routed.effects, escalation=escalation
        )

    def resolve_incident(self, incident_id: str, *, by: str | None = None) -> Incident:
        """Mark the incident Resolved (and its escalation resolved)."""
        return self.update_state(incident_id, IncidentState.RESOLVED, by=by)

    def close_incident(self, incident_id: str, *, by: str | None = None) -> Incident:
        """Mark the incident Closed (and its escalation resolved)."""
        return self.update_state(incident_id, IncidentState.CLOSED, by=by)

    def _repeat_of(self, incident: Incident) -> Incident | None:
        if incident.dedup_key:
            found = self._incidents.find_open(incident.dedup_key)
            if found is not None:
                return found
        known = self._incidents.get(incident.id)
        return known if known is not None and known.state.is_open else None

    def _fold(self, existing: Incident, repeat: Incident) -> ProcessResult:
        count = self._incidents.add_duplicate(existing.id)
        if not repeat.state.is_open:
            existing = self.update_state(existing.id, repeat.state)
        else:
            self.repair(existing)  # a half-made incident (saved by an older tocsin, say) is finished now
        return ProcessResult(
            incident=existing,
            duplicate=True,
            duplicates=count,
            escalation=self._engine.get_escalation_state(existing.id),
        )

    def repair(self, incident: Incident) -> EscalationState | None:
        """Finish an open incident that should be escalating but has no escalation: route it again (its
        notify messages and playbook runs are keyed, so none goes out twice) and start its policy's escalation,
        in one unit of work. Returns the escalation started, or None when there was nothing to repair."""
        if not incident.state.is_open or self._engine.store.load(incident.id) is not None:
            return None
        if self._maintenance is not None and self._maintenance.dropped(incident.id):
            return None  # a maintenance window held it, to be dropped: it never escalates
        routed = self._routing.route(incident)
        policy = self._engine.find_policy_for_incident(routed.incident, routed.policy_id)
        if policy is None:
            return None
        recipients = [self._recipient(name) for name in routed.notify_channels]
        hold = timedelta(minutes=routed.suppress_minutes) if routed.suppress_minutes else None
        with self._engine.store.atomic():
            escalation = self._engine.start_escalation(routed.incident, policy.id, delay=hold, announce=recipients)
            self._run_playbooks(routed.incident, routed, escalation)
        return escalation

    def _run_playbooks(self, incident: Incident, routed: RoutingResult, escalation: EscalationState | None) -> None:
        if routed.playbooks and incident.state.is_open:
            escalation_id = escalation.escalation_id if escalation is not None else ""
            self._engine.run_playbooks(incident, routed.playbooks, escalation_id=escalation_id)

    def _resolve_escalation(self, incident_id: str, by: str | None) -> None:
        # No escalation, or a cancelled one: nothing is paging.
        with contextlib.suppress(UnknownIncidentError, EscalationNotActiveError):
            self._engine.resolve_escalation(incident_id, by=by)

    def _recipient(self, name: str) -> Recipient:
        contact = self._notify.get(name)
        if contact is None:
            return Recipient(address=name, channel=DEFAULT_CHANNEL, target="notify")
        return Recipient(address=name, channel=contact.type, target="notify", contact=contact)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
