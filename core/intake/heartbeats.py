"""Heartbeat monitors, the applying side: the deadlines, the incident a missed one opens, the ping that resolves it.

A heartbeat is armed when a server first sees it in its config: due one ``interval`` later. Each ping
(``POST /v1/heartbeats/NAME`` with its token) moves the deadline to ``interval`` after the ping. When a deadline
passes without one, exactly one incident opens (routed and escalated like any other incident, with the dedup key
``heartbeat/NAME`` and the label ``heartbeat: NAME``); the next ping resolves it and re-arms the heartbeat.

The state lives in the store (:class:`~tocsin.store.records.HeartbeatState`), so a restart picks the deadlines
up again (one that passed while the server was down fires at once). The deadlines wait in a due-queue that the
engine's monitor runs on its own wake-ups (:class:`~tocsin.escalation.monitor.TimedWork`): no polling. With
several instances on one store, each holds every deadline, and the compare-and-set on the state's version lets
only one of them open the incident.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs

from tocsin.clock import Clock
from tocsin.errors import TocsinError
from tocsin.escalation.due_queue import DueQueue
from tocsin.instants import MICROS_PER_SECOND, from_micros, to_micros
from tocsin.intake.processor import IncidentProcessor
from tocsin.integrations.heartbeats import Heartbeat
from tocsin.logs import get_logger
from tocsin.models import Incident
from tocsin.store.errors import StaleStateError
from tocsin.store.interfaces import EscalationStore
from tocsin.store.operations import OperationsStore
from tocsin.store.records import HeartbeatState, new_id

__all__ = ["HeartbeatMonitor", "HeartbeatSetupError", "Ping", "UnknownHeartbeatError"]

_log = get_logger(component="heartbeats")
_RETRY = 30 * MICROS_PER_SECOND  # a check that failed (the store is down) is tried again this much later

# (kind, subject, detail) of a change to tell the audit log about, once it has committed
Report = Callable[[str, str, dict[str, object]], None]


class HeartbeatSetupError(TocsinError):
    """A heartbeat cannot be served: its ``token_env`` variable is unset or too short."""


class UnknownHeartbeatError(TocsinError, LookupError):
    """No heartbeat of that name is configured."""


@attrs.frozen(kw_only=True)
class Ping:
    """A ping taken: the heartbeat's state now, and the incident of its last miss it resolved (if any)."""

    name: str
    state: HeartbeatState
    resolved: str | None = None


class HeartbeatMonitor:
    """The configured heartbeats' deadlines and what happens at them; give it to the engine's monitor.

    :param store: where heartbeat states live.
    :param unit: the escalation store, whose atomic blocks a miss (its incident and its new state) shares.
    :param report: told of each miss and recovery once committed (the audit log).
    """

    def __init__(self, store: OperationsStore, unit: EscalationStore, clock: Clock, *, report: Report | None = None):
        self._store = store
        self._unit = unit
        self._clock = clock
        self._report = report
        self._settings: dict[str, Heartbeat] = {}
        self._tokens: dict[str, bytes] = {}
        self._processor: IncidentProcessor | None = None
        self._queue = DueQueue()

    # --- the config ---

    def configure(
        self, heartbeats: Mapping[str, Heartbeat], processor: IncidentProcessor, *, read_secrets: bool = True
    ) -> None:
        """Take ``heartbeats`` (at start-up, and at each config reload): arm the new ones, keep the deadlines of
        the others (moved if their interval changed), forget those no longer configured; misses open incidents
        through ``processor``. Without ``read_secrets`` (a simulation) no ping is authorized.

        :raises HeartbeatSetupError: a token variable is unset (nothing was changed).
        """
        tokens: dict[str, bytes] = {}
        for name, heartbeat in heartbeats.items() if read_secrets else ():
            try:
                tokens[name] = heartbeat.secret().encode("utf-8")
            except LookupError as exc:
                raise HeartbeatSetupError(f"heartbeat {name!r}: {exc}") from None
        self._settings, self._tokens, self._processor = dict(heartbeats), tokens, processor
        self._queue = DueQueue()
        for name, heartbeat in heartbeats.items():
            self._arm(name, heartbeat)

    def _arm(self, name: str, heartbeat: Heartbeat) -> None:
        """Arm ``name`` (or take its stored deadline); when the store fails, try again a little later."""
        try:
            self._arm_now(name, heartbeat)
        except Exception:
            _log.exception("heartbeat cannot be armed now; trying again", heartbeat=name)
            self._queue.schedule(name, to_micros(self._clock.now()) + _RETRY)

    def _arm_now(self, name: str, heartbeat: Heartbeat) -> None:
        store = self._store
        now = self._clock.now()
        state = store.heartbeat(name)
        try:
            with self._unit.atomic():
                if state is None:
                    state = HeartbeatState(name=name, armed_at=now, due_at=now + heartbeat.period)
                    store.save_heartbeat(state, expected_version=None)
                elif state.incident_id is None:
                    due = (state.last_ping or state.armed_at) + heartbeat.period  # the interval may have changed
                    if due != state.due_at:
                        moved = attrs.evolve(state, due_at=due, version=state.version + 1)
                        store.save_heartbeat(moved, expected_version=state.version)
                        state = moved
        except StaleStateError:  # another instance armed or moved it first: take what it stored
            state = store.heartbeat(name)
        if state is not None and state.incident_id is None:
            self._queue.schedule(name, to_micros(state.due_at))

    # --- asking ---

    def __contains__(self, name: object) -> bool:
        return name in self._settings

    def names(self) -> list[str]:
        """The configured heartbeats, sorted."""
        return sorted(self._settings)

    def settings(self, name: str) -> Heartbeat:
        """The configured heartbeat ``name`` (``UnknownHeartbeatError`` when there is none)."""
        heartbeat = self._settings.get(name)
        if heartbeat is None:
            raise UnknownHeartbeatError(f"no heartbeat named {name!r}")
        return heartbeat

    def authorize(self, name: str, token: str | None) -> bool:
        """True when ``token`` is heartbeat ``name``'s (compared in constant time)."""
        secret = self._tokens.get(name)
        return secret is not None and token is not None and hmac.compare_digest(token.encode("utf-8"), secret)

    def state(self, name: str) -> HeartbeatState | None:
        """The stored state of heartbeat ``name`` (None before it was armed)."""
        return self._store.heartbeat(name)

    # --- pings and deadlines ---

    def ping(self, name: str) -> Ping:
        """Heartbeat ``name`` checked in: due ``interval`` from now; the incident of its last miss, if still
        open, is resolved. One unit of work (call it in one).

        :raises UnknownHeartbeatError: no such heartbeat.
        :raises StaleStateError: another ping or miss changed it at the same moment (try again).
        """
        heartbeat = self.settings(name)
        processor = self._processor
        assert processor is not None, "configure() first"
        now = self._clock.now()
        state = self._store.heartbeat(name) or HeartbeatState(name=name, armed_at=now, due_at=now, version=0)
        resolved = None
        if state.incident_id is not None:
            incident = processor.get_incident(state.incident_id)
            if incident is not None and incident.state.is_open:
                processor.resolve_incident(incident.id, by=f"heartbeat {name}")
                resolved = incident.id
        pinged = attrs.evolve(
            state, last_ping=now, due_at=now + heartbeat.period, incident_id=None, version=state.version + 1
        )
        self._store.save_heartbeat(pinged, expected_version=state.version if state.version else None)
        due = to_micros(pinged.due_at)
        self._unit.after_commit(lambda: self._queue.schedule(name, due))
        if resolved is not None:
            self._tell("heartbeat.recovered", name, {"incident": resolved})
        return Ping(name=name, state=pinged, resolved=resolved)

    def next_due_at(self) -> datetime | None:
        """When the earliest deadline is (None: every heartbeat has missed, or none is configured)."""
        due = self._queue.next_due()
        return from_micros(due) if due is not None else None

    def run_due(self, now: datetime) -> int:
        """Look at every heartbeat whose deadline is at or before ``now``; returns the incidents opened."""
        return sum(self._check(name, now) for name in self._queue.pop_due(to_micros(now)))

    def _check(self, name: str, now: datetime) -> int:
        heartbeat = self._settings.get(name)
        processor = self._processor
        if heartbeat is None or processor is None:
            return 0
        store = self._store
        try:
            with self._unit.atomic():
                state = store.heartbeat(name)
                if state is None:  # it could not be armed when it was configured (the store failed): now
                    self._arm(name, heartbeat)
                    return 0
                if state.incident_id is not None:
                    return 0  # missed already: the next ping re-arms it
                if state.due_at > now:  # pinged (on this instance or another) since it was scheduled
                    due = to_micros(state.due_at)
                    self._unit.after_commit(lambda: self._queue.schedule(name, due))
                    return 0
                result = processor.process(self._incident(name, heartbeat, state, now))
                missed = attrs.evolve(
                    state, incident_id=result.incident.id, misses=state.misses + 1, version=state.version + 1
                )
                store.save_heartbeat(missed, expected_version=state.version)
        except StaleStateError:  # another instance took this miss (or a ping arrived): its state stands
            state = store.heartbeat(name)
            if state is not None and state.incident_id is None:
                self._queue.schedule(name, to_micros(state.due_at))
            return 0
        except Exception:
            _log.exception("heartbeat check failed; trying again", heartbeat=name)
            self._queue.schedule(name, to_micros(now) + _RETRY)
            return 0
        _log.warning("heartbeat missed", heartbeat=name, incident_id=result.incident.id, due=state.due_at.isoformat())
        self._tell("heartbeat.missed", name, {"incident": result.incident.id, "due": state.due_at.isoformat()})
        return 1

    def _incident(self, name: str, heartbeat: Heartbeat, state: HeartbeatState, now: datetime) -> Incident:
        template = heartbeat.incident
        since = f"last ping {state.last_ping.isoformat()}" if state.last_ping else f"armed {state.armed_at.isoformat()}"
        return Incident(
            id=new_id(),
            source=template.source,
            title=template.title or f"Heartbeat {name} missed",
            description=template.description or f"No ping within {heartbeat.interval} ({since}).",
            severity=template.severity,
            incident_type=template.incident_type,
            assignees=template.assignees,
            labels={**template.labels, "heartbeat": name},
            payload={"heartbeat": name, "due_at": state.due_at.isoformat(), "last_ping": _iso(state.last_ping)},
            dedup_key=f"heartbeat/{name}",
            created_at=now,
        )

    def _tell(self, kind: str, name: str, detail: dict[str, object]) -> None:
        report = self._report
        if report is not None:
            self._unit.after_commit(lambda: report(kind, name, detail))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
