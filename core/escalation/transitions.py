"""How one change to an escalation is applied: fire what is due, commit once, reschedule, tell observers.

:class:`Transitions` holds the engine's open escalations (compact :class:`~tocsin.escalation.plan.Run`
records) and the due-queue. After a restart it holds each stored open escalation as an
:class:`~tocsin.store.interfaces.OpenEscalation` (ids, version, due time) and reads the whole row from the
store only when the escalation is due or acted on.

A transition mutates a record, then writes the row, the notifications it created and its journal events to
the store in ONE commit (compare-and-set on the version); only after the commit succeeds are the new
notifications queued in the outbox and the observers told. When a commit loses (another instance changed the
escalation) the record is reloaded from the store and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tocsin.delivery.outbox import Outbox
from tocsin.escalation.due_queue import DueQueue
from tocsin.escalation.firing import Firer
from tocsin.escalation.plan import Firing, Plan, Run, state_from_row
from tocsin.instants import MICROS_PER_SECOND, from_micros
from tocsin.logs import get_logger
from tocsin.models import (
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    EscalationEvent,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    Notification,
)
from tocsin.observers import Observers
from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.interfaces import EscalationRow, EscalationStore, OpenEscalation

__all__ = ["Hooks", "Transitions"]

_log = get_logger(component="escalation")
_ACTIVE = EscalationStatus.ACTIVE
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED
_COMPLETED = EscalationStatus.COMPLETED
_OPEN = (_ACTIVE, _ACKNOWLEDGED, _COMPLETED)
_PENDING = DeliveryStatus.PENDING
_FIRST_RETRY = MICROS_PER_SECOND  # a step that failed on a store fault is first retried this much later
Hooks = list[tuple[str, dict[str, Any]]]  # (observer short name, arguments besides ``state``)


class Transitions:
    """Open escalations by incident id, their due-queue, and the one way they change."""

    def __init__(
        self,
        store: EscalationStore,
        outbox: Outbox,
        observers: Observers,
        firer: Firer,
        plan_for: Callable[[EscalationPolicy], Plan],
        on_due: Callable[[int], None],
    ) -> None:
        self.runs: dict[str, Run | OpenEscalation] = {}  # incident id -> record (or, not read yet, its index)
        self.queue = DueQueue()
        self._failures: dict[str, int] = {}  # incident id -> steps failed in a row (for the retry backoff)
        self.conflicts = 0  # commits that lost a compare-and-set: another instance changed the escalation first
        self._store = store
        self._outbox = outbox
        self._observers = observers
        self.firer = firer  # walks records forward and fires their levels
        self._plan_for = plan_for
        self._on_due = on_due
        outbox.subscribe(self._delivered)

    def step(
        self,
        run: Run,
        now: int,
        expected: int | None,
        events: list[EscalationEvent],
        hooks: Hooks,
        manual: bool = False,
        written: list[Notification] | None = None,
        forced: Firing | None = None,
    ) -> int:
        """One transition at ``now``: fire what is due, complete if nothing follows, commit, schedule, tell
        observers. ``expected`` is the version the change was made on (None: a new escalation); ``written``,
        when given, receives the notifications the commit added to the outbox; ``forced`` fires first (an
        exhausted escalation escalated by hand). Returns the levels fired."""
        notifications: list[Notification] = []
        firings = self.firer.collect(run, now, events, manual)
        if forced is not None:
            firings.insert(0, (forced, False))
        now_dt = from_micros(now)
        fired = 0
        for firing, late in firings:
            if self.firer.fire(run, firing, late, now_dt, notifications, events):
                fired += 1
                hooks.append(("level_fired", {"level": firing.level, "pass_number": firing.pass_number, "late": late}))
        event = run.next_event()
        if event is None and run.status is _ACTIVE:
            run.status, run.ended, run.exhausted_pages = _COMPLETED, now, 0
            events.append(
                EscalationEvent(at=now_dt, kind="completed", pass_number=run.pass_number, detail=_exhausted(run))
            )
            hooks.append(("completed", {}))
            event = run.next_event()  # on_exhausted may page again
        run.due = event[0] if event is not None else None
        run.version = (expected or 0) + 1
        store = self._store
        incident_id = run.incident.id
        with store.atomic():
            # The record is changed in place: whatever undoes this commit (a lost compare-and-set, a store
            # fault, or the operation's enclosing block) puts the stored version back, and only a commit lets
            # the change be seen.
            store.after_rollback(lambda: self.reload(incident_id))
            try:
                fresh = store.commit(
                    run.to_row(), expected_version=expected, notifications=notifications, events=events
                )
            except StaleStateError:
                self.conflicts += 1
                raise
            if written is not None:
                written.extend(fresh)
            store.after_commit(lambda: self._committed(run, fresh, now, hooks))
        return fired

    def _committed(self, run: Run, fresh: list[Notification], now: int, hooks: Hooks) -> None:
        """After the commit: the record is the stored version; its notifications go out; observers hear of it."""
        self._place(run)
        self._outbox.submit(fresh)
        if fresh:
            self._on_due(now)
        self._emit(run, hooks)

    def tick(self, now: int, retry_after: int) -> int:
        """Step every escalation due at or before ``now``. One whose step fails (a store fault) is retried with
        backoff: after 1 s, 2 s, 4 s, … but never later than ``retry_after``; the ones still due after a store
        fault are not tried now (each would meet it too, and wait its busy timeout) but retried with it."""
        fired = 0
        due = self.queue.pop_due(now)
        for index, incident_id in enumerate(due):
            try:
                run = self.run_of(incident_id)
                if run is None or run.due is None or run.due > now:  # read just now: the store's due time holds
                    continue
                fired += self.step(run, now, run.version, [], [])
                if run.due is not None and run.due <= now:  # firing scheduled more work that is already due
                    fired += self._advance(run, now)
                self._failures.pop(incident_id, None)
            except StaleStateError as exc:
                _log.warning("escalation changed elsewhere; reloaded", incident_id=incident_id, reason=str(exc))
            except Exception as exc:
                failures = self._failures[incident_id] = self._failures.get(incident_id, 0) + 1
                wait = min(retry_after, _FIRST_RETRY << min(failures - 1, 20))
                _log.error(
                    "escalation step failed; retrying",
                    incident_id=incident_id,
                    error=f"{type(exc).__name__}: {exc}",
                    attempt=failures,
                    retry_in_seconds=wait / MICROS_PER_SECOND,
                    exc_info=not isinstance(exc, StoreError),  # a fault of the store is not a bug to trace
                )
                self.queue.schedule(incident_id, now + wait)
                if isinstance(exc, StoreError):  # the next steps would meet the same fault: try them with this one
                    for later in due[index + 1 :]:
                        self.queue.schedule(later, now + wait)
                    break
        return fired

    def catch_up(self, run: Run, now: int) -> None:
        """Fire what was due before an action on ``run``, so the action happens after it."""
        if run.due is not None and run.due <= now:
            self._advance(run, now)

    def _advance(self, run: Run, now: int) -> int:
        """Step ``run`` until nothing is due at ``now`` (firing a level can schedule more work that is already
        due: a round-robin step of a level that fired late)."""
        fired = 0
        while run.due is not None and run.due <= now and self.runs.get(run.incident.id) is run:
            due = run.due
            fired += self.step(run, now, run.version, [], [])
            if run.due is not None and run.due <= due:
                break  # no progress: leave the rest to the next tick
        return fired

    # --- views -------------------------------------------------------------------------------------------

    def view(self, run: Run) -> EscalationState:
        """The full state of an escalation, with its deliveries and journal."""
        return self.view_row(run.to_row(), _next_level(run))

    def view_new(self, run: Run, written: Sequence[Notification], events: Sequence[EscalationEvent]) -> EscalationState:
        """The full state of an escalation that was just started, from what its first step wrote (its
        notifications, all pending, and its journal) rather than read back from the store."""
        deliveries = tuple(Delivery(notification=notification, status=_PENDING) for notification in written)
        return state_from_row(run.to_row(), _next_level(run), deliveries=deliveries, events=tuple(events))

    def view_row(self, row: EscalationRow, next_level: int | None = None) -> EscalationState:
        """The full state of a stored escalation."""
        store = self._store
        return state_from_row(
            row,
            next_level,
            deliveries=tuple(store.deliveries(row.escalation_id)),
            events=tuple(store.events(row.escalation_id)),
        )

    def hook_view(self, run: Run) -> EscalationState:
        """The state observers get: everything but the deliveries and the journal (read those with
        ``get_escalation_state``), so firing a level costs the same however long the history is."""
        return EscalationState(
            incident_id=run.incident.id,
            escalation_id=run.escalation_id,
            policy=run.plan.policy,
            status=run.status,
            current_level=run.level,
            pass_number=run.pass_number,
            started_at=from_micros(run.started),
            next_due_at=from_micros(run.due) if run.due is not None else None,
            next_level=_next_level(run),
            acknowledged_by=run.acked_by,
            acknowledged_at=from_micros(run.acked_at) if run.acked_at is not None else None,
            ended_at=from_micros(run.ended) if run.ended is not None else None,
            version=run.version,
            round=run.round,
            exhausted=run.status is _COMPLETED,
            open=run.status in _OPEN,
        )

    # --- loading -----------------------------------------------------------------------------------------

    def reload(self, incident_id: str) -> None:
        """Replace the record with what the store holds (after a lost compare-and-set or a rolled-back block).
        When the store cannot be read, the record is dropped: the claim of due work takes it over again."""
        try:
            row = self._store.load(incident_id)
        except Exception:
            _log.warning("escalation cannot be reloaded; dropped until the store answers", incident_id=incident_id)
            row = None
        if row is None or not row.is_open:
            self.runs.pop(incident_id, None)
            self.queue.remove(incident_id)
            return
        self.adopt([row])

    def hold(self, row: EscalationRow) -> Run:
        """Make the stored open escalation ``row`` this engine's record of it (replacing an older one)."""
        run = Run.from_row(row, self._plan_for(row.policy))
        self._place(run)
        return run

    def forget(self, incident_id: str) -> None:
        """Drop the record of ``incident_id`` (the store holds no open escalation for it)."""
        if self.runs.pop(incident_id, None) is not None:
            self.queue.remove(incident_id)

    def run_of(self, incident_id: str) -> Run | None:
        """The record of ``incident_id``'s open escalation, its row read from the store first if it was held
        by its index only; None when there is none (or its stored policy cannot run here: logged)."""
        held = self.runs.get(incident_id)
        if held is None or isinstance(held, Run):
            return held
        row = self._store.load(incident_id)  # a store fault propagates: the caller retries
        if row is None or not row.is_open:
            self.forget(incident_id)
            return None
        try:
            return self.hold(row)
        except Exception:
            _log.exception("stored escalation cannot run here; skipped", incident_id=incident_id)
            self.forget(incident_id)
            return None

    def loaded(self) -> list[Run]:
        """Every open escalation's record, the rows of those held by their index read in one go."""
        if any(not isinstance(held, Run) for held in self.runs.values()):
            rows = {row.incident_id: row for row in self._store.load_open()}
            for incident_id, held in list(self.runs.items()):
                if isinstance(held, Run):
                    continue
                row = rows.get(incident_id)
                if row is None:
                    self.forget(incident_id)
                    continue
                try:
                    self.hold(row)
                except Exception:
                    _log.exception("stored escalation cannot run here; skipped", incident_id=incident_id)
                    self.forget(incident_id)
        return [held for held in self.runs.values() if isinstance(held, Run)]

    def adopt_index(self, entries: Iterable[OpenEscalation]) -> None:
        """Take over stored open escalations by their index alone (a restart): each is scheduled at its due
        time, and its row is read when it is due or acted on."""
        runs, queue = self.runs, self.queue
        earliest: int | None = None
        for entry in entries:
            runs[entry.incident_id] = entry
            due = entry.next_due
            if due is not None:
                queue.schedule(entry.incident_id, due)
                earliest = due if earliest is None else min(earliest, due)
        if earliest is not None:
            self._on_due(earliest)

    def adopt(self, rows: Iterable[EscalationRow]) -> None:
        """Take over stored open escalations (a restart); rows sharing a policy share its compiled plan."""
        plans: dict[int, Plan] = {}
        for row in rows:
            plan = plans.get(id(row.policy))
            if plan is None:
                plan = plans[id(row.policy)] = self._plan_for(row.policy)
            self._place(Run.from_row(row, plan))

    def adopt_newer(self, rows: Iterable[EscalationRow]) -> int:
        """Take over the ``rows`` this engine does not run yet, or whose stored version is newer than its record
        (another instance changed them); rows it runs at the same version are left alone and compile nothing
        (one it holds by its index alone becomes its record, and is not counted). A row whose plan cannot be
        built here is logged and skipped. Returns how many were adopted."""
        runs = self.runs
        plans: dict[int, Plan] = {}
        adopted = 0
        for row in rows:
            held = runs.get(row.incident_id)
            same = held is not None and held.escalation_id == row.escalation_id and held.version >= row.version
            if same and isinstance(held, Run):
                continue
            try:
                plan = plans.get(id(row.policy))
                if plan is None:
                    plan = plans[id(row.policy)] = self._plan_for(row.policy)
            except Exception:
                _log.exception("claimed escalation cannot run here; skipped", incident_id=row.incident_id)
                continue
            self._place(Run.from_row(row, plan))
            adopted += not same
        return adopted

    # --- internals ---------------------------------------------------------------------------------------

    def _place(self, run: Run) -> None:
        key = run.incident.id
        if run.status in _OPEN:
            self.runs[key] = run
            if run.due is not None:
                self.queue.schedule(key, run.due)
                self._on_due(run.due)
            else:
                self.queue.remove(key)
        else:
            self.runs.pop(key, None)
            self.queue.remove(key)

    def _emit(self, run: Run, hooks: Hooks) -> None:
        observers = self._observers
        state: EscalationState | None = None
        for name, arguments in hooks:
            hook = getattr(observers, name)
            if hook is None:
                continue
            if state is None:
                state = self.hook_view(run)
            hook(state=state, **arguments)

    def _delivered(self, notification: Notification, result: DeliveryResult) -> None:
        observers = self._observers
        Observers.emit(
            observers.notification_delivered if result.ok else observers.notification_failed,
            notification=notification,
            result=result,
        )


def _next_level(run: Run) -> int | None:
    """The level an open escalation fires next; None once it ended."""
    return run.next_level() if run.status in _OPEN else None


def _exhausted(run: Run) -> str:
    """The journal's word on an escalation that just completed: exhausted, still open, and what comes next."""
    policy = run.plan.policy
    rule = policy.on_exhausted
    if run.plan.exhausted_every:
        then = f"on_exhausted repeat_last: the last level pages again every {policy.exhausted_interval} minutes"
    elif run.plan.exhausted_level is not None:
        then = f"on_exhausted page: its targets are paged {rule.after_minutes} minutes after the last level"
    else:
        then = "on_exhausted stay: nobody more is paged"
    return (
        f"exhausted: every level fired and nobody acknowledged; open until acknowledged, resolved or cancelled; {then}"
    )
