"""The timing rules of an escalation, compiled from a policy, and the compact record of one escalation.

Timing, in integer microseconds (exact, so nothing drifts):

- level k is due ``delay_minutes`` after level k-1 was due (level 0: after the pass's anchor); a level with
  delay 0 fires together with the previous one;
- after the last level, with ``repeat``, level 0 of the next pass is due ``interval_minutes`` (+ level 0's
  delay) after the last level was due; ``max_repeats`` passes after the first, then the escalation completes;
- acknowledged: only levels with ``stop_on_ack: false`` still fire (at their times, in the current pass);
  no further pass starts;
- ``ack_timeout_minutes``: an acknowledgement not followed by a resolve within that time re-triggers the
  escalation: it is active again and the acknowledged level fires again, then the schedule continues; a
  snooze re-triggers the same way when it runs out (and replaces the ack timeout while it runs);
- exhausted: once the last level of the last pass fired unanswered the escalation is ``completed`` and stays
  open; the policy's ``on_exhausted`` may page again: ``repeat_last`` fires the last level every
  ``interval_minutes`` after it was due, ``page`` fires its targets once, ``after_minutes`` after it (as level
  ``len(levels)``), each in a new round so that its pages get new keys;
- smart levels (:mod:`tocsin.escalation.level_rules`): a level whose ``when`` is false at its due time is skipped but
  keeps its place in time (the next level counts from its due time); a delay with ``delay_counts_during``
  counts only while its working-hours window is open; a round-robin level pages one recipient at a time,
  moving on every ``rotate_after_minutes`` while the escalation is active, until the next level is due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, TypedDict

from tocsin.escalation.level_rules import LevelRules
from tocsin.escalation.targets import CompiledLevel
from tocsin.instants import MICROS_PER_MINUTE, from_micros
from tocsin.models import EscalationPolicy, EscalationState, EscalationStatus, Incident, Recipient
from tocsin.store.interfaces import EscalationRow, SmartRow

__all__ = ["EXHAUSTED", "ROTATE", "Firing", "Plan", "Run", "state_from_row"]

_ACTIVE = EscalationStatus.ACTIVE
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED
_COMPLETED = EscalationStatus.COMPLETED
# The "firing" of a round-robin step in ``Run.next_event`` (compared by identity): the current level moves
# on to its next recipient.
ROTATE: tuple[int, int, int] = (-1, -2, -1)
# The "firing" of an exhausted escalation's ``on_exhausted`` page (compared by identity).
EXHAUSTED: tuple[int, int, int] = (-1, -3, -1)


class Firing(NamedTuple):
    """One level due to fire: (round, pass, level, due instant); ``step`` > 0 is a round-robin step of the
    level, paging ``recipients`` (the next person in the rotation)."""

    round: int
    pass_number: int
    level: int
    due: int
    step: int = 0
    recipients: tuple[Recipient, ...] = ()


class Plan:
    """A policy snapshot compiled for the timer: delays in microseconds and each level's bound targets."""

    __slots__ = (
        "ack_timeout",
        "counted",
        "delays",
        "exhausted_after",
        "exhausted_every",
        "exhausted_level",
        "interval",
        "levels",
        "next_firing",
        "next_unstoppable",
        "offsets",
        "policy",
        "repeats",
        "rules",
    )

    def __init__(
        self,
        policy: EscalationPolicy,
        levels: tuple[CompiledLevel, ...],
        rules: tuple[LevelRules | None, ...] | None = None,
        exhausted_level: CompiledLevel | None = None,
    ) -> None:
        self.policy = policy
        self.levels = levels
        # on_exhausted: ``repeat_last`` every this many microseconds (0: not), ``page`` these targets this long
        # after the last level was due (``exhausted_level`` None: not).
        every = policy.exhausted_interval
        self.exhausted_every = every * MICROS_PER_MINUTE if every is not None else 0
        self.exhausted_level = exhausted_level
        self.exhausted_after = policy.on_exhausted.after_minutes * MICROS_PER_MINUTE
        # Smart levels (None: the policy has none, and nothing below looks at them).
        self.rules = rules if rules is not None and any(rule is not None for rule in rules) else None
        counted = tuple(rule.counted if rule is not None else None for rule in self.rules or ())
        self.counted = counted if any(window is not None for window in counted) else None
        # (pass, level, due) of the next level to fire after ``level`` fired at ``anchor``; None: no more.
        # Chosen once: policies without window-counted delays never look at windows.
        self.next_firing: Callable[[bool, int, int, int], tuple[int, int, int] | None] = (
            self._next_plain if self.counted is None else self._next_counted
        )
        self.delays = tuple(level.delay_minutes * MICROS_PER_MINUTE for level in policy.levels)
        offsets: list[int] = []
        total = 0
        for delay in self.delays:
            total += delay
            offsets.append(total)
        self.offsets = tuple(offsets)  # offsets[k]: level k's due time after the pass's anchor
        # next_unstoppable[i]: the first level j >= i with stop_on_ack false (-1: none)
        following = -1
        unstoppable = [-1] * (len(policy.levels) + 1)
        for index in range(len(policy.levels) - 1, -1, -1):
            if not policy.levels[index].stop_on_ack:
                following = index
            unstoppable[index] = following
        self.next_unstoppable = tuple(unstoppable)
        repeat = policy.repeat
        self.repeats = repeat.max_repeats if repeat is not None else 0
        self.interval = repeat.interval_minutes * MICROS_PER_MINUTE if repeat is not None else 0
        timeout = policy.ack_timeout_minutes
        self.ack_timeout = timeout * MICROS_PER_MINUTE if timeout is not None else None

    def _next_plain(self, acknowledged: bool, pass_number: int, level: int, anchor: int) -> tuple[int, int, int] | None:
        """``next_firing`` when every delay is plain minutes: offsets from the anchor."""
        if not acknowledged:
            following = level + 1
            if following < len(self.delays):
                return pass_number, following, anchor + self.delays[following]
            if pass_number < self.repeats:
                return pass_number + 1, 0, anchor + self.interval + self.delays[0]
            return None
        following = self.next_unstoppable[level + 1]
        if following < 0:
            return None
        base = self.offsets[level] if level >= 0 else 0
        return pass_number, following, anchor + self.offsets[following] - base

    def _next_counted(
        self, acknowledged: bool, pass_number: int, level: int, anchor: int
    ) -> tuple[int, int, int] | None:
        """``next_firing`` when some delays count only in a working-hours window: level by level."""
        if not acknowledged:
            following = level + 1
            if following < len(self.delays):
                return pass_number, following, self.due(following, anchor)
            if pass_number < self.repeats:
                return pass_number + 1, 0, self.due(0, anchor + self.interval)
            return None
        following = self.next_unstoppable[level + 1]
        if following < 0:
            return None
        due = anchor
        for index in range(level + 1, following + 1):
            due = self.due(index, due)
        return pass_number, following, due

    def due(self, level: int, after: int) -> int:
        """When ``level`` is due if the level before it was due at ``after`` (its delay, counted in its
        working-hours window when it has ``delay_counts_during``)."""
        window = self.counted[level] if self.counted is not None else None
        if window is None:
            return after + self.delays[level]
        return window.add(after, self.delays[level])

    def rotate_after(self, level: int) -> int:
        """The round-robin step of ``level`` in microseconds (0: the level does not rotate)."""
        rule = self.rules[level] if self.rules is not None and level >= 0 else None
        return rule.rotate_after if rule is not None else 0


class Run:
    """The engine's compact, mutable record of one open escalation (a row is written from it per change)."""

    __slots__ = (
        "acked_at",
        "acked_by",
        "acked_level",
        "acks",
        "anchor",
        "announce",
        "announced",
        "awaiting",
        "due",
        "ended",
        "escalation_id",
        "exhausted_pages",
        "incident",
        "level",
        "paged_level",
        "pass_number",
        "plan",
        "rotation",
        "rotation_step",
        "round",
        "snoozed_until",
        "started",
        "status",
        "version",
    )

    def __init__(self, escalation_id: str, incident: Incident, plan: Plan, started: int, anchor: int) -> None:
        self.escalation_id = escalation_id
        self.incident = incident
        self.plan = plan
        self.status = _ACTIVE
        self.pass_number = 0
        self.level = -1
        self.anchor = anchor
        self.round = 0
        self.started = started
        self.acked_by: str | None = None
        self.acked_at: int | None = None
        self.acked_level: int | None = None
        self.ended: int | None = None
        self.version = 0
        self.due: int | None = None  # when the next event (a level, an ack timeout) is due
        self.announce: tuple[Recipient, ...] = ()  # routing notify messages, sent when the schedule begins
        self.announced = False
        self.paged_level = -1  # smart policies: the last level not skipped (what an ack answers); -1: ``level``
        self.snoozed_until: int | None = None  # acknowledged and snoozed: re-triggers then
        self.awaiting: tuple[str, ...] = ()  # ack_mode all: who was paged at the current level
        self.acks: tuple[str, ...] = ()  # ack_mode all: who of them has acknowledged
        self.rotation: tuple[Recipient, ...] = ()  # round robin: the recipients still to page, in order
        self.rotation_step = 0  # round robin: how many times the current level moved on
        self.exhausted_pages = 0  # completed: how many times on_exhausted paged since the escalation became so

    def next_event(self) -> tuple[int, tuple[int, int, int] | None] | None:
        """(due, firing) of what happens next: a firing (pass, level, due); :data:`ROTATE`, a round-robin
        step of the current level; :data:`EXHAUSTED`, an ``on_exhausted`` page of a completed escalation; or
        None, a re-trigger (an ack timeout, or a snooze that ran out).

        Level -1 is the announcement: the routing ``notify`` messages, due when the schedule begins.
        """
        status = self.status
        if status is _COMPLETED:
            return self._exhausted_event()
        if status is not _ACTIVE and status is not _ACKNOWLEDGED:
            return None
        if self.announce and not self.announced:
            return self.anchor, (self.pass_number, -1, self.anchor)
        acknowledged = status is _ACKNOWLEDGED
        firing = self.plan.next_firing(acknowledged, self.pass_number, self.level, self.anchor)
        if acknowledged:
            retrigger = self.snoozed_until
            timeout = self.plan.ack_timeout
            if retrigger is None and timeout is not None and self.acked_at is not None:
                retrigger = self.acked_at + timeout
            if retrigger is not None and (firing is None or retrigger <= firing[2]):
                return retrigger, None
        elif self.rotation:
            step = self.anchor + (self.rotation_step + 1) * self.plan.rotate_after(self.level)
            if firing is None or step < firing[2]:
                return step, ROTATE
        return (firing[2], firing) if firing is not None else None

    def _exhausted_event(self) -> tuple[int, tuple[int, int, int] | None] | None:
        """What ``on_exhausted`` pages next (counted from ``anchor``: when the last page was due), or None."""
        plan = self.plan
        if plan.exhausted_every:
            return self.anchor + plan.exhausted_every, EXHAUSTED
        if plan.exhausted_level is not None and not self.exhausted_pages:
            return self.anchor + plan.exhausted_after, EXHAUSTED
        return None

    def exhausted_level(self) -> int:
        """The level an ``on_exhausted`` page fires: the last level that paged (``repeat_last``), or one past the
        last level (``page``: its own targets)."""
        if self.plan.exhausted_every:
            return self.paged_level if self.paged_level >= 0 else self.level
        return len(self.plan.levels)

    def ack_from(self, by: str) -> list[str]:
        """Count ``by``'s acknowledgement at a level with ``ack_mode: all``; returns who must still
        acknowledge (empty: the escalation is acknowledged now, as it always is without ``ack_mode: all``)."""
        awaiting = self.awaiting
        if not awaiting:
            return []
        if by in awaiting and by not in self.acks:
            self.acks = (*self.acks, by)
        return [person for person in awaiting if person not in self.acks]

    def next_level(self) -> int | None:
        """The level that fires next (None when nothing is scheduled)."""
        event = self.next_event()
        if event is None:
            return None
        firing = event[1]
        if firing is ROTATE:
            return self.level
        if firing is EXHAUSTED:
            return self.exhausted_level()
        return firing[1] if firing is not None else max(self.acked_level or 0, 0)

    def to_row(self) -> EscalationRow:
        """The row a store keeps for this escalation."""
        return EscalationRow(
            escalation_id=self.escalation_id,
            incident=self.incident,
            policy=self.plan.policy,
            status=self.status,
            pass_number=self.pass_number,
            level=self.level,
            anchor=self.anchor,
            round=self.round,
            started_at=self.started,
            acknowledged_by=self.acked_by,
            acknowledged_at=self.acked_at,
            acknowledged_level=self.acked_level,
            ended_at=self.ended,
            next_due=self.due,
            version=self.version,
            announce=self.announce,
            announced=self.announced,
            smart=None if self.plan.rules is None and self.snoozed_until is None else self._smart_row(),
            exhausted_pages=self.exhausted_pages,
        )

    def _smart_row(self) -> SmartRow:
        return SmartRow(
            paged_level=self.paged_level,
            snoozed_until=self.snoozed_until,
            awaiting=self.awaiting,
            acks=self.acks,
            rotation=self.rotation,
            rotation_step=self.rotation_step,
        )

    @classmethod
    def from_row(cls, row: EscalationRow, plan: Plan) -> Run:
        """Rebuild the record from a stored row (after a restart, or after another instance changed it)."""
        run = cls(row.escalation_id, row.incident, plan, row.started_at, row.anchor)
        run.status = row.status
        run.pass_number = row.pass_number
        run.level = row.level
        run.round = row.round
        run.acked_by = row.acknowledged_by
        run.acked_at = row.acknowledged_at
        run.acked_level = row.acknowledged_level
        run.ended = row.ended_at
        run.version = row.version
        run.due = row.next_due
        run.announce = row.announce
        run.announced = row.announced
        run.exhausted_pages = row.exhausted_pages
        smart = row.smart
        if smart is not None:
            run.paged_level = smart.paged_level
            run.snoozed_until = smart.snoozed_until
            run.awaiting = smart.awaiting
            run.acks = smart.acks
            run.rotation = smart.rotation
            run.rotation_step = smart.rotation_step
        return run


def state_from_row(row: EscalationRow, next_level: int | None = None, **extra: object) -> EscalationState:
    """The read-only view of a stored escalation (``extra``: deliveries, events)."""
    return EscalationState(
        incident_id=row.incident.id,
        escalation_id=row.escalation_id,
        policy=row.policy,
        status=row.status,
        current_level=row.level,
        pass_number=row.pass_number,
        started_at=from_micros(row.started_at),
        next_due_at=from_micros(row.next_due) if row.next_due is not None else None,
        next_level=next_level,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=from_micros(row.acknowledged_at) if row.acknowledged_at is not None else None,
        ended_at=from_micros(row.ended_at) if row.ended_at is not None else None,
        version=row.version,
        round=row.round,
        exhausted=row.status is _COMPLETED,
        open=row.is_open,
        **_smart_state(row.smart),
        **extra,  # type: ignore[arg-type]
    )


class _SmartState(TypedDict, total=False):
    snoozed_until: datetime | None
    acks: tuple[str, ...]
    awaiting_acks: tuple[str, ...]


def _smart_state(smart: SmartRow | None) -> _SmartState:
    if smart is None:
        return {}
    snoozed = from_micros(smart.snoozed_until) if smart.snoozed_until is not None else None
    awaiting = tuple(person for person in smart.awaiting if person not in smart.acks)
    return {"snoozed_until": snoozed, "acks": smart.acks, "awaiting_acks": awaiting}
