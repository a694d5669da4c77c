"""The escalation engine: policies, escalations, the due-queue timer, acknowledgements — the guide's API.

Every change to an escalation is one transition: the engine mutates its compact record, then writes the
row, the notifications the transition created and its journal events to the store in one commit (compare-
and-set on the row's version), queues the new notifications in the outbox, and only then tells the
observer hooks. "Now" always comes from the injected clock, so a :class:`~tocsin.clock.ManualClock` runs the
same code in virtual time. See :mod:`tocsin.escalation.plan` for the timing rules.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from tocsin.clock import Clock
from tocsin.convert import make_converter
from tocsin.delivery.channels import ChannelSet
from tocsin.delivery.outbox import Outbox
from tocsin.delivery.playbooks import playbook_key, playbook_recipient
from tocsin.escalation.errors import (
    EscalationActiveError,
    EscalationNotActiveError,
    PolicyDisabledError,
    PolicyError,
    UnknownIncidentError,
    UnknownPolicyError,
)
from tocsin.escalation.firing import Firer, round_robin_cursor
from tocsin.escalation.level_rules import LevelError, LevelRules, compile_level_rules
from tocsin.escalation.monitor import Monitor
from tocsin.escalation.plan import Plan, Run
from tocsin.escalation.targets import TargetExecutor
from tocsin.escalation.transitions import Transitions
from tocsin.escalation.wiring import EngineConfig, wire_engine
from tocsin.escalation.working_hours import WorkingHours, WorkingHoursError, WorkingWindow, compile_working_hours
from tocsin.instants import MICROS_PER_MINUTE, MICROS_PER_SECOND, from_micros, to_micros
from tocsin.manager import Plugins
from tocsin.models import (
    EscalationEvent,
    EscalationLevel,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    Incident,
    Notification,
    Recipient,
)
from tocsin.observers import Observers
from tocsin.registry import UnknownNameError
from tocsin.routing.policies import select_policy
from tocsin.store.interfaces import EscalationRow, EscalationStore

__all__ = ["EscalationEngine"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_ACTIVE = EscalationStatus.ACTIVE
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED
_COMPLETED = EscalationStatus.COMPLETED


def _unit_of_work(
    method: Callable[Concatenate[EscalationEngine, _P], _R],
) -> Callable[Concatenate[EscalationEngine, _P], _R]:
    """Run an engine operation as ONE atomic block of its store (joining the caller's block, if any): what it
    reads, fires and writes is durable together or not at all, and its cache updates follow the commit."""

    @functools.wraps(method)
    def atomic(self: EscalationEngine, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._store.atomic():
            return method(self, *args, **kwargs)

    return atomic


class EscalationEngine:
    """Runs escalations: the guide's ``EscalationEngine`` with its names, in snake_case.

    :param plugins: the loaded plugin set (default: ``tocsin.load_plugins()``).
    :param store: where escalations, journals and the outbox live (default: in memory).
    :param clock: where "now" comes from (default: the system clock; a ``ManualClock`` for virtual time).
    :param config: a loaded configuration: its teams, users, schedules, policies and channel settings.
    :param channels: the senders (default: created from the registry and ``config.channels``).
    :param check_interval: the longest the monitor sleeps without looking at the due-queue (seconds).
    :param late_after: a level that fires more than this after its due time is late (downtime catch-up).
    :param delivery_timeout: how long a channel may take to deliver one notification (seconds; default: the
        config's ``delivery.timeout_seconds``, 30 without a config). Retries follow ``config.delivery``.
    :param observe: call the observer hooks (False for simulations, which must not look like real events).
    :param instance_id: who this engine is among instances sharing a store: the owner of the due work it
        claims (default: a random id).
    :param lease_seconds: how long due work claimed by :meth:`claim_due_work` stays this engine's before another
        instance may claim it (seconds).
    :param claim_limit: the most escalations one :meth:`claim_due_work` claims.
    :param recover_open: pick up the store's open escalations when the engine starts. ``False`` for one of a
        fleet of instances sharing a store: the others run theirs, and what nobody runs is claimed when due.
    """

    def __init__(
        self,
        plugins: Plugins | None = None,
        store: EscalationStore | None = None,
        *,
        clock: Clock | None = None,
        config: EngineConfig | None = None,
        channels: ChannelSet | None = None,
        check_interval: float = 30.0,
        late_after: timedelta = timedelta(minutes=1),
        delivery_timeout: float | None = None,
        observe: bool = True,
        instance_id: str | None = None,
        lease_seconds: float = 60.0,
        claim_limit: int = 100,
        recover_open: bool = True,
    ) -> None:
        self.instance_id = instance_id if instance_id is not None else uuid.uuid4().hex
        self.lease_seconds = float(lease_seconds)
        self.claim_limit = claim_limit
        self.claimed = 0  # due escalations claimed by claim_due_work (this engine's own among them)
        self.taken_over = 0  # of those, ones it did not run yet or ran at an older version: taken over
        self.more_due_work = False  # the last claim was a full batch: more may be due (the monitor claims again)
        self._recover_open = recover_open
        parts = wire_engine(
            plugins, store, clock=clock, config=config, channels=channels, delivery_timeout=delivery_timeout
        )
        self._plugins = parts.plugins
        self._clock = parts.clock
        self._store = parts.store
        self._executor = parts.executor
        self._channels = parts.channels
        self._outbox = parts.outbox
        self.observing = observe
        self._policies: dict[str, Plan] = {}
        self._windows: dict[str, WorkingWindow] = {}  # working-hours windows by name
        self.monitor = Monitor(self, check_interval)
        late = int(late_after / timedelta(microseconds=1))
        self._transitions = Transitions(
            self._store,
            self._outbox,
            Observers(self._plugins.hook if observe else None, self._plugins.settings),
            Firer(self._executor, late_after=late, round_robin=round_robin_cursor(self._store)),
            self._plan_for,
            self.monitor.changed,
        )
        self._runs = self._transitions.runs
        self._queue = self._transitions.queue
        if config is not None:
            self.load_config(config)
        self._recover()

    @classmethod
    def from_config(cls, config: EngineConfig, plugins: Plugins | None = None, **options: Any) -> EscalationEngine:
        """An engine with ``config``'s teams, users, schedules, policies and channel settings registered."""
        return cls(plugins, config=config, **options)

    def with_check_interval(self, seconds: float) -> EscalationEngine:
        """Set the monitor's longest sleep (the guide's ``with_check_interval``); returns the engine."""
        self.monitor.check_interval = float(seconds)
        return self

    # --- what the engine is built from -------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock every "now" comes from."""
        return self._clock

    @property
    def store(self) -> EscalationStore:
        """The escalation store (rows, journals, outbox)."""
        return self._store

    @property
    def outbox(self) -> Outbox:
        """The notification outbox."""
        return self._outbox

    @property
    def plugins(self) -> Plugins:
        """The plugin set the engine was built with."""
        return self._plugins

    def executor(self) -> TargetExecutor:
        """Teams, people and schedules that targets expand against (``engine.executor().register_team(...)``)."""
        return self._executor

    def load_config(self, config: EngineConfig) -> None:
        """Register ``config``'s teams, users, schedules, working hours and policies."""
        self._executor.load(config.teams, config.users, config.schedules)
        for name, hours in config.working_hours.items():
            self.register_working_hours(name, hours)
        for policy in config.policies:
            self.register_policy(policy)

    def replace_config(self, config: EngineConfig) -> None:
        """Take ``config``'s teams, users, schedules, working hours and policies instead of the ones held now,
        all at once and only if every one of them compiles (a config reload). Escalations in flight keep their
        policy snapshot; the levels that fire from now on expand against the new teams, people and schedules;
        new escalations use the new policies. A policy no longer in ``config`` can no longer start one.

        :raises PolicyError: a policy or working-hours window that does not compile; nothing was changed.
        """
        executor = TargetExecutor(self._plugins.registry)
        executor.load(config.teams, config.users, config.schedules)
        # A window the new config drops stays known: a snapshot in flight may name it.
        windows = {name: window for name, window in self._windows.items() if name not in config.working_hours}
        for name, hours in config.working_hours.items():
            try:
                windows[name] = compile_working_hours(name, hours)
            except WorkingHoursError as exc:
                raise PolicyError(str(exc)) from None
        plans: dict[str, Plan] = {}
        for policy in config.policies:
            plans[policy.id] = self._compile(policy, executor, windows)
        self._executor.replace(executor)
        self._windows = windows
        self._policies = plans

    def register_working_hours(self, name: str, hours: WorkingHours) -> None:
        """Add or replace the working-hours window ``name`` (levels name it in ``when`` and
        ``delay_counts_during``); register it before the policies that use it."""
        try:
            self._windows[name] = compile_working_hours(name, hours)
        except WorkingHoursError as exc:
            raise PolicyError(str(exc)) from None

    # --- policies ----------------------------------------------------------------------------------------

    def register_policy(self, policy: EscalationPolicy) -> None:
        """Add or replace a policy. Escalations already running keep the snapshot they started with."""
        self._policies[policy.id] = self._compile(policy, self._executor, self._windows)

    def _compile(self, policy: EscalationPolicy, executor: TargetExecutor, windows: dict[str, WorkingWindow]) -> Plan:
        """``policy`` compiled against ``executor``'s teams, people and schedules and the working-hours ``windows``;
        ``PolicyError`` naming the level (or ``on_exhausted.page``) that names something unknown."""
        levels = []
        for index, level in enumerate(policy.levels):
            try:
                levels.append(executor.compile(level.targets))
            except UnknownNameError as exc:
                raise PolicyError(f"policy {policy.id!r}: levels[{index}]: {exc}") from None
        page = policy.on_exhausted.page
        try:
            exhausted = executor.compile(page) if page else None
        except UnknownNameError as exc:
            raise PolicyError(f"policy {policy.id!r}: on_exhausted.page: {exc}") from None
        return Plan(policy, tuple(levels), self._level_rules(policy, windows), exhausted)

    def policies(self) -> list[EscalationPolicy]:
        """The registered policies, in the order they were first registered."""
        return [plan.policy for plan in self._policies.values()]

    def get_policy(self, policy_id: str) -> EscalationPolicy | None:
        """The registered policy with ``policy_id``, or None."""
        plan = self._policies.get(policy_id)
        return plan.policy if plan is not None else None

    def find_policy_for_incident(self, incident: Incident, policy_id: str | None = None) -> EscalationPolicy | None:
        """The policy for ``incident``: ``policy_id`` (a routing ``use_policy``) first; else the enabled
        policies whose severity filter is empty or names the severity, highest ``priority``, ties in the
        order they were registered."""
        return select_policy(self.policies(), incident, policy_id)

    # --- escalations ---------------------------------------------------------------------------------------

    @_unit_of_work
    def start_escalation(
        self,
        incident: Incident,
        policy_id: str,
        *,
        delay: timedelta | None = None,
        announce: Sequence[Recipient] = (),
    ) -> EscalationState:
        """Start escalating ``incident`` with a snapshot of policy ``policy_id``; levels due now fire now.

        :param delay: hold the whole schedule back (a routing ``suppress``): level 0 is due ``delay`` plus
            its own delay from now.
        :param announce: recipients of the routing ``notify`` messages, sent when the schedule begins (now,
            or when ``delay`` is over if the escalation is still open then).
        """
        plan = self._registered(policy_id)
        previous = self._store.load(incident.id)  # the store, not this engine's cache, says what is open
        if previous is not None and previous.is_open:
            what = "open, exhausted (completed)" if previous.status is _COMPLETED else previous.status.value
            raise EscalationActiveError(
                f"incident {incident.id!r} already has an {what} escalation ({previous.escalation_id}); "
                "resolve or cancel it first"
            )
        hold = int(delay / timedelta(microseconds=1)) if delay else 0
        return self._begin(incident, plan, previous, hold=hold, announce=announce)

    def _registered(self, policy_id: str) -> Plan:
        """The compiled policy ``policy_id``, which must be registered and enabled."""
        plan = self._policies.get(policy_id)
        if plan is None:
            known = ", ".join(self._policies) or "(none)"
            raise UnknownPolicyError(f"unknown policy {policy_id!r}; known: {known}")
        if not plan.policy.enabled:
            raise PolicyDisabledError(f"policy {policy_id!r} is disabled: it cannot start an escalation")
        return plan

    def _begin(
        self,
        incident: Incident,
        plan: Plan,
        previous: EscalationRow | None,
        *,
        hold: int = 0,
        announce: Sequence[Recipient] = (),
        detail: str = "",
    ) -> EscalationState:
        """Start an escalation of ``incident`` on ``plan`` now (after ``previous``, the incident's last one, which
        has ended), its schedule held back ``hold`` microseconds."""
        self._transitions.forget(incident.id)  # a record the store no longer has open is stale
        now = self._now()
        run = Run(f"{incident.id}#{_serial(previous) + 1}", incident, plan, now, now + hold)
        run.announce = tuple(announce)
        started = f"policy {plan.policy.id}" + (f"; {detail}" if detail else "")
        events = [EscalationEvent(at=from_micros(now), kind="started", detail=started)]
        written: list[Notification] = []
        self._transitions.step(run, now, None, events, [("started", {})], written=written)
        return self._transitions.view_new(run, written, events)

    @_unit_of_work
    def notify(self, incident: Incident, recipients: Sequence[Recipient]) -> list[Notification]:
        """Send one message about ``incident`` to each recipient now (routing ``notify`` without an
        escalation); keyed by incident and recipient, so a repeat of the incident sends nothing twice."""
        keyed = [
            (f"{incident.id}/notify/{recipient.channel}/{recipient.address}", recipient) for recipient in recipients
        ]
        return self._send_now(incident, keyed, "")

    @_unit_of_work
    def run_playbooks(
        self, incident: Incident, playbook_ids: Sequence[str], *, escalation_id: str = ""
    ) -> list[Notification]:
        """Queue a run of each playbook for ``incident`` now, on the outbox's ``playbook`` channel (which hands it
        to the playbook's runner); keyed by incident and playbook, so each runs at most once per incident.

        :param escalation_id: the incident's escalation, whose deliveries then list the runs with their answers.
        """
        keyed = [
            (playbook_key(incident.id, playbook_id), playbook_recipient(playbook_id)) for playbook_id in playbook_ids
        ]
        return self._send_now(incident, keyed, escalation_id)

    def _send_now(
        self, incident: Incident, keyed: Sequence[tuple[str, Recipient]], escalation_id: str
    ) -> list[Notification]:
        """Write one message per ``(key, recipient)`` about ``incident``, due now and outside any level, to the
        outbox; the ones not written before go out once the unit of work commits."""
        now = self._clock.now()
        notifications = [
            Notification(
                key=key,
                incident_id=incident.id,
                policy_id="",
                pass_number=0,
                level=-1,
                recipient=recipient,
                due_at=now,
                incident=incident,
                escalation_id=escalation_id,
                fired_at=now,
            )
            for key, recipient in keyed
        ]
        fresh = self._store.enqueue(notifications)
        if fresh:
            self._store.after_commit(lambda: self._hand_over(fresh))
        return fresh

    def _hand_over(self, fresh: list[Notification]) -> None:
        self._outbox.submit(fresh)
        self.monitor.wake()

    def get_escalation_state(self, incident_id: str) -> EscalationState | None:
        """The escalation of ``incident_id`` (the latest one, open or ended), or None."""
        run = self._current_run(incident_id)  # the stored version, whichever instance wrote it
        if run is not None:
            return self._transitions.view(run)
        row = self._store.load(incident_id)
        return self._transitions.view_row(row) if row is not None else None

    @_unit_of_work
    def acknowledge_escalation(self, incident_id: str, by: str) -> EscalationState:
        """``by`` acknowledges: levels with ``stop_on_ack`` stop firing, repeats stop. An exhausted escalation
        (``completed``: every level fired unanswered) can be acknowledged too; it answers the last level.

        When the current level (the last one not skipped) has ``ack_mode: all``, everyone it paged must
        acknowledge: until the last of them does, each acknowledgement is journalled as ``ack_received``
        and the escalation goes on escalating.
        """
        run = self._open_run(incident_id, "acknowledged")
        now = self._catch_up(run)
        if run.status is _ACKNOWLEDGED:
            raise EscalationNotActiveError(
                f"incident {incident_id!r}: the escalation is already acknowledged by {run.acked_by!r}; "
                "only an active escalation can be acknowledged"
            )
        expected = run.version
        answered = run.paged_level if run.paged_level >= 0 else run.level
        waiting = run.ack_from(by)
        if waiting:
            counted = "" if by in run.awaiting else f"{by} was not paged at level {answered}; "
            progress = f"{len(run.acks)} of {len(run.awaiting)} acknowledged; waiting for {', '.join(waiting)}"
            event = EscalationEvent(
                at=from_micros(now),
                kind="ack_received",
                by=by,
                pass_number=run.pass_number,
                level=answered,
                detail=counted + progress,
            )
            self._transitions.step(run, now, expected, [event], [])
            return self._transitions.view(run)
        event = self._acknowledged(run, by, now, answered)
        self._transitions.step(run, now, expected, [event], [("acknowledged", {"by": by})])
        return self._transitions.view(run)

    def _acknowledged(self, run: Run, by: str, now: int, answered: int) -> EscalationEvent:
        """Make ``run`` acknowledged by ``by`` at ``now``; the journal entry saying so."""
        exhausted = run.status is _COMPLETED
        run.status, run.acked_by, run.acked_at, run.acked_level = _ACKNOWLEDGED, by, now, answered
        run.ended = None
        detail = f"all {len(run.awaiting)} paged at level {answered} acknowledged" if run.awaiting else ""
        if exhausted:
            detail = "; ".join(filter(None, ["after every level fired (exhausted)", detail]))
        return EscalationEvent(
            at=from_micros(now), kind="acknowledged", by=by, pass_number=run.pass_number, detail=detail
        )

    @_unit_of_work
    def snooze(self, incident_id: str, minutes: int, by: str | None = None) -> EscalationState:
        """Snooze an acknowledged escalation: if it is not resolved within ``minutes``, it re-triggers, as
        in PagerDuty: active again, the acknowledged level pages again, and the schedule goes on from there.

        Snoozing again moves the time; while snoozed, ``ack_timeout_minutes`` does not apply. Snoozing an
        exhausted escalation (``completed``) acknowledges it first (by ``by``), then snoozes it.

        :raises EscalationNotActiveError: the escalation is neither acknowledged nor exhausted.
        :raises ValueError: ``minutes`` is not a whole number of at least 1.
        """
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError(f"snooze needs a whole number of minutes, 1 or more; got {minutes!r}")
        run = self._open_run(incident_id, "snoozed")
        now = self._catch_up(run)
        if run.status is not _ACKNOWLEDGED and run.status is not _COMPLETED:
            raise EscalationNotActiveError(
                f"incident {incident_id!r}: the escalation is {run.status.value}; only an acknowledged or exhausted "
                "(completed) escalation can be snoozed"
            )
        expected = run.version
        events: list[EscalationEvent] = []
        hooks: list[tuple[str, dict[str, Any]]] = []
        if run.status is _COMPLETED:
            who = by or "api"
            events.append(self._acknowledged(run, who, now, run.paged_level if run.paged_level >= 0 else run.level))
            hooks.append(("acknowledged", {"by": who}))
        run.snoozed_until = now + minutes * MICROS_PER_MINUTE
        until = from_micros(run.snoozed_until).isoformat()
        event = EscalationEvent(
            at=from_micros(now),
            kind="snoozed",
            by=by,
            pass_number=run.pass_number,
            level=run.acked_level,
            detail=f"for {minutes} minutes, until {until}",
        )
        self._transitions.step(run, now, expected, [*events, event], hooks)
        return self._transitions.view(run)

    @_unit_of_work
    def update_incident(
        self, incident: Incident, *, note: str | None = None, by: str | None = None
    ) -> EscalationState | None:
        """Give the open escalation of ``incident.id`` the incident as it is now: levels that come due later
        evaluate their ``when`` conditions against it and their pages carry it. What was due before now
        fires first, with the incident as it was. ``note`` journals the change as ``incident_updated`` (by
        ``by``). None when the incident has no open escalation."""
        run = self._current_run(incident.id)
        if run is None:
            return None
        now = self._catch_up(run)
        expected = run.version
        run.incident = incident
        events = []
        if note is not None:
            events.append(
                EscalationEvent(
                    at=from_micros(now), kind="incident_updated", by=by, pass_number=run.pass_number, detail=note
                )
            )
        self._transitions.step(run, now, expected, events, [])
        return self._transitions.view(run)

    @_unit_of_work
    def resolve_escalation(self, incident_id: str, by: str | None = None) -> EscalationState:
        """Stop the escalation because its incident is resolved. Resolving twice is harmless."""
        return self._end(incident_id, EscalationStatus.RESOLVED, by)

    @_unit_of_work
    def cancel_escalation(self, incident_id: str, by: str | None = None) -> EscalationState:
        """Stop the escalation without resolving the incident."""
        return self._end(incident_id, EscalationStatus.CANCELLED, by)

    @_unit_of_work
    def escalate_now(self, incident_id: str, by: str | None = None) -> EscalationState:
        """Fire the next level now; the levels after it count their delays from now.

        An exhausted escalation (``completed``) escalates as its policy's ``on_exhausted`` says: ``stay`` starts
        over (level 0 fires now, in a new pass, and the levels after it follow at their delays), ``repeat_last``
        pages the last level again now, ``page`` pages the on_exhausted targets now.
        """
        run = self._open_run(incident_id, "escalated")
        now = self._catch_up(run)
        if run.status is _COMPLETED:
            return self._escalate_exhausted(run, now, by)
        following = run.plan.next_firing(False, run.pass_number, run.level, run.anchor)
        if following is None:
            raise EscalationNotActiveError(
                f"incident {incident_id!r}: the last level of the last pass has fired; there is no level to escalate to"
            )
        expected = run.version
        run.pass_number, run.level, run.anchor = following[0], following[1], now
        event = EscalationEvent(
            at=from_micros(now), kind="escalated", by=by, pass_number=following[0], level=following[1]
        )
        self._transitions.step(run, now, expected, [event], [], manual=True)
        return self._transitions.view(run)

    @_unit_of_work
    def unacknowledge(self, incident_id: str, by: str | None = None) -> EscalationState:
        """Take an acknowledgement back: the escalation is active again and goes on at its next level, which
        fires at its own time, or now if that time has passed (the levels after it count from then). With no
        level left, the acknowledged level pages again now. A snooze is over.

        :raises EscalationNotActiveError: the escalation is not acknowledged.
        """
        run = self._open_run(incident_id, "un-acknowledged")
        now = self._catch_up(run)
        if run.status is not _ACKNOWLEDGED:
            raise EscalationNotActiveError(
                f"incident {incident_id!r}: the escalation is {run.status.value}; only an acknowledged escalation "
                "can be un-acknowledged"
            )
        expected = run.version
        answered = max(run.acked_level if run.acked_level is not None else run.level, 0)
        was = run.acked_by
        run.status = _ACTIVE
        run.acked_by = run.acked_at = run.acked_level = run.snoozed_until = None
        run.acks = ()
        following = run.plan.next_firing(False, run.pass_number, run.level, run.anchor)
        manual = True
        if following is None:  # nothing is left to escalate to: the answered level pages again, in a new round
            run.round += 1
            run.level, run.anchor = answered, now
            detail = f"acknowledged by {was}; no level left, so level {answered} pages again"
        elif following[2] <= now:
            run.pass_number, run.level, run.anchor = following[0], following[1], now
            detail = f"acknowledged by {was}; level {following[1]} was due, so it fires now"
        else:
            manual = False
            detail = f"acknowledged by {was}; level {following[1]} fires at {from_micros(following[2]).isoformat()}"
        event = EscalationEvent(
            at=from_micros(now), kind="unacknowledged", by=by, pass_number=run.pass_number, detail=detail
        )
        self._transitions.step(run, now, expected, [event], [], manual=manual)
        return self._transitions.view(run)

    @_unit_of_work
    def reassign(
        self,
        incident: Incident,
        *,
        policy_id: str | None = None,
        person: str | None = None,
        by: str | None = None,
    ) -> EscalationState:
        """Restart the escalation of ``incident`` on a new target: policy ``policy_id`` (as configured now), or
        ``person`` alone (paged now, with the repeats of the policy the escalation ran). The escalation that
        was running (if still open) ends as cancelled, journalled as ``reassigned``; the new one starts now,
        its ``started`` entry saying from where. Exactly one of ``policy_id`` and ``person``.

        :raises UnknownPolicyError: no such policy (or it is disabled: ``PolicyDisabledError``).
        """
        if (policy_id is None) == (person is None):
            raise ValueError("reassign to exactly one of a policy and a person")
        previous = self._store.load(incident.id)
        if policy_id is not None:
            plan, target = self._registered(policy_id), f"policy {policy_id}"
        else:
            assert person is not None
            template = previous.policy if previous is not None else None
            plan, target = self._person_plan(person, template), f"person {person}"
        run = self._current_run(incident.id)
        if run is not None:
            now = self._catch_up(run)
            expected = run.version
            run.status, run.ended = EscalationStatus.CANCELLED, now
            run.snoozed_until, run.rotation = None, ()
            event = EscalationEvent(
                at=from_micros(now), kind="reassigned", by=by, pass_number=run.pass_number, detail=f"to {target}"
            )
            self._transitions.step(run, now, expected, [event], [("cancelled", {})])
            previous = run.to_row()
        origin = f" from {previous.escalation_id}" if previous is not None else ""
        return self._begin(incident, plan, previous, detail=f"reassigned{origin} to {target} by {by or 'someone'}")

    def _person_plan(self, address: str, template: EscalationPolicy | None) -> Plan:
        """A one-level policy paging ``address`` now, repeating as ``template`` did: where a reassignment to a
        person runs. Its snapshot is an ordinary policy (a ``user`` target), so a restart runs it too."""
        document = {"targets": [{"type": "user", "email": address}]}  # the config's shape of such a level
        try:
            level = make_converter(self._plugins.registry).structure(document, EscalationLevel)
        except Exception as exc:
            raise PolicyError(f"cannot page {address!r} alone: no 'user' target ({exc})") from None
        policy = EscalationPolicy(
            id=f"reassigned:{address}",
            name=f"Reassigned to {address}",
            levels=(level,),
            repeat=template.repeat if template is not None else None,
            ack_timeout_minutes=template.ack_timeout_minutes if template is not None else None,
        )
        return self._plan_for(policy)

    @_unit_of_work
    def release_hold(self, incident_id: str, by: str | None = None, *, reason: str = "") -> EscalationState | None:
        """Begin now the schedule of an escalation held back at its start (a maintenance window that ended
        early, a routing ``suppress``): level 0 is due its own delay from now. None when the escalation is not
        held (it began already, or is not open)."""
        run = self._current_run(incident_id)
        now = self._now()
        if run is None or run.status is not _ACTIVE or run.level >= 0 or run.pass_number or run.anchor <= now:
            return None
        expected = run.version
        run.anchor = now
        event = EscalationEvent(at=from_micros(now), kind="released", by=by, detail=reason)
        self._transitions.step(run, now, expected, [event], [])
        return self._transitions.view(run)

    def escalation_ids(self, incident_id: str) -> list[str]:
        """The ids of every escalation the incident has had, oldest first (a reassignment starts another)."""
        latest = self._store.load(incident_id)
        if latest is None:
            return []
        return [f"{incident_id}#{serial}" for serial in range(1, _serial(latest) + 1)]

    def _escalate_exhausted(self, run: Run, now: int, by: str | None) -> EscalationState:
        expected = run.version
        plan = run.plan
        if plan.exhausted_every or plan.exhausted_level is not None:
            events: list[EscalationEvent] = []
            firing = self._transitions.firer.exhausted(run, now, events, by=by)
            self._transitions.step(run, now, expected, events, [], forced=firing)
            return self._transitions.view(run)
        run.status, run.ended, run.exhausted_pages = _ACTIVE, None, 0
        run.pass_number, run.level, run.anchor = run.pass_number + 1, 0, now
        run.paged_level, run.awaiting, run.acks = -1, (), ()
        event = EscalationEvent(
            at=from_micros(now),
            kind="escalated",
            by=by,
            pass_number=run.pass_number,
            level=0,
            detail="exhausted (on_exhausted stay): starts over at level 0",
        )
        self._transitions.step(run, now, expected, [event], [], manual=True)
        return self._transitions.view(run)

    def open_escalations(self) -> list[EscalationState]:
        """Every open escalation this engine runs (active, acknowledged, or completed: exhausted, unanswered)."""
        return [self._transitions.view(run) for run in self._transitions.loaded()]

    def active_count(self) -> int:
        """How many escalations are open (active, acknowledged or completed)."""
        return len(self._runs)

    # --- the timer ---------------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> int:
        """Process everything due at or before ``now`` (default: the clock's now); returns levels fired.

        Only the escalations at the front of the due-queue are looked at; an idle tick costs one peek.
        """
        at = to_micros(now) if now is not None else self._now()
        return self._transitions.tick(at, int(self.monitor.check_interval * MICROS_PER_SECOND))

    def claim_due_work(self, now: datetime | None = None) -> int:
        """Claim the store's escalations due at or before ``now`` (default: the clock's now) that no other
        instance holds, and take over those this engine does not run yet or runs at an older version (another
        instance started or changed them). Those it runs at the stored version are left alone. The monitor
        calls this before each tick; returns how many escalations were taken over."""
        at = now if now is not None else self._clock.now()
        rows = self._store.claim_due(
            at, owner=self.instance_id, lease_seconds=self.lease_seconds, limit=self.claim_limit
        )
        if not rows:
            self.more_due_work = False
            return 0
        taken = self._transitions.adopt_newer(rows)
        # A full batch with something new in it: claim again once these are done. (A full batch of what this
        # engine already runs is work it is failing to step: claiming it again would only spin.)
        self.more_due_work = len(rows) >= self.claim_limit and taken > 0
        self.claimed += len(rows)
        self.taken_over += taken
        return taken

    @property
    def conflicts(self) -> int:
        """How many of this engine's commits lost a compare-and-set (another instance changed the escalation
        first); each was reloaded from the store and sent nothing."""
        return self._transitions.conflicts

    def next_due_at(self) -> datetime | None:
        """When the earliest open escalation is next due, or None."""
        due = self._queue.next_due()
        return from_micros(due) if due is not None else None

    def run_until(self, instant: datetime) -> int:
        """Virtual time: move a settable clock (``ManualClock``) to each due time up to ``instant`` (of an
        escalation, or of the monitor's other timed work), ticking at each, then to ``instant``. Returns the
        levels fired."""
        setter = getattr(self._clock, "set", None)
        if setter is None:
            raise TypeError("run_until needs a clock with set() (a ManualClock); use run_monitor() in real time")
        target = to_micros(instant)
        fired = 0
        monitor = self.monitor
        while (due := self._next_due_any()) is not None and due <= target:
            if due > self._now():
                setter(from_micros(due))
            fired += self.tick()
            if monitor.timers:
                monitor.run_timers(self._clock.now())
        if target > self._now():
            setter(instant)
        return fired

    def _next_due_any(self) -> int | None:
        """The earliest due time of an escalation or of the monitor's other timed work (microseconds)."""
        due = self._queue.next_due()
        timer = self.monitor.timers_due_at() if self.monitor.timers else None
        if timer is None:
            return due
        return to_micros(timer) if due is None else min(due, to_micros(timer))

    async def run_monitor(self) -> None:
        """Run the timer and the outbox until :meth:`stop_monitor`: sleep until the next due time or a change,
        never longer than ``check_interval``."""
        await self.monitor.run()

    def stop_monitor(self) -> None:
        """Ask a running :meth:`run_monitor` to return."""
        self.monitor.stop()

    # --- internals ---------------------------------------------------------------------------------------

    def _now(self) -> int:
        return to_micros(self._clock.now())

    def _open_run(self, incident_id: str, action: str) -> Run:
        """The open escalation of ``incident_id`` as the store has it (whichever instance started or last
        changed it); raises when there is none."""
        run = self._current_run(incident_id)
        if run is not None:
            return run
        row = self._store.load(incident_id)
        if row is None:
            raise UnknownIncidentError(f"no escalation for incident {incident_id!r}")
        raise EscalationNotActiveError(
            f"incident {incident_id!r}: the escalation is {row.status.value}; it cannot be {action}"
        )

    def _current_run(self, incident_id: str) -> Run | None:
        """This engine's record of the open escalation, brought up to the stored version first (another
        instance may have started or changed it); None when the store holds no open escalation."""
        row = self._store.load(incident_id)
        if row is None or not row.is_open:
            self._transitions.forget(incident_id)
            return None
        held = self._runs.get(incident_id)
        if isinstance(held, Run) and held.escalation_id == row.escalation_id and held.version == row.version:
            return held
        return self._transitions.hold(row)

    def _catch_up(self, run: Run) -> int:
        """Fire what was due before an action on ``run`` (the action happens after them); returns now."""
        now = self._now()
        self._transitions.catch_up(run, now)
        return now

    def _end(self, incident_id: str, status: EscalationStatus, by: str | None) -> EscalationState:
        run = self._current_run(incident_id)
        if run is None:
            row = self._store.load(incident_id)
            if row is None:
                raise UnknownIncidentError(f"no escalation for incident {incident_id!r}")
            if row.status is status:
                return self._transitions.view_row(row)
            raise EscalationNotActiveError(
                f"incident {incident_id!r}: the escalation is {row.status.value}; it cannot be {status.value}"
            )
        now = self._now()
        expected = run.version
        run.status, run.ended = status, now
        run.snoozed_until, run.rotation = None, ()
        event = EscalationEvent(at=from_micros(now), kind=status.value, by=by, pass_number=run.pass_number)
        self._transitions.step(run, now, expected, [event], [(status.value, {})])
        return self._transitions.view(run)

    def _plan_for(self, policy: EscalationPolicy) -> Plan:
        """The plan of a policy snapshot: the registered one when it is that version, else compiled now."""
        current = self._policies.get(policy.id)
        if current is not None and (current.policy is policy or current.policy == policy):
            return current
        return self._compile(policy, self._executor, self._windows)

    def _level_rules(
        self, policy: EscalationPolicy, windows: dict[str, WorkingWindow]
    ) -> tuple[LevelRules | None, ...]:
        registry = self._plugins.registry
        rules: list[LevelRules | None] = []
        faults: list[str] = []
        for index, level in enumerate(policy.levels):
            try:
                rules.append(compile_level_rules(level, registry, windows, path=f"levels[{index}]"))
            except LevelError as exc:
                faults.append(str(exc))
        if faults:
            raise PolicyError(f"policy {policy.id!r}: {'; '.join(faults)}")
        return tuple(rules)

    def _recover(self) -> None:
        """Pick up the store's open escalations (a restart; unless told to leave them to claims) and its
        undelivered notifications."""
        if self._recover_open:
            self._transitions.adopt_index(self._store.open_index())
        self._outbox.recover()


def _serial(previous: EscalationRow | None) -> int:
    if previous is None:
        return 0
    _, _, serial = previous.escalation_id.rpartition("#")
    return int(serial) if serial.isdigit() else 0
