"""Walking an escalation forward in time, and turning a level that fires into notifications.

:meth:`Firer.collect` moves a record through everything due up to "now" (levels, ack timeouts) and says
which levels fire. When the engine was down, every missed firing is overdue at once: each missed *level*
fires once (its latest missed occurrence), in order, marked late, and the schedule keeps its anchor; the
earlier occurrences it replaces are journalled as ``missed``. :meth:`Firer.fire` expands one level's
targets and builds its notifications, each with its stable idempotency key.

Smart levels (see :mod:`tocsin.escalation.level_rules`): a level whose ``when`` is false at its due time is journalled
as ``level_skipped`` and pages nobody; a round-robin level pages the first person of its rotation (where it
starts comes from the store's per-policy-level cursor) and keeps the others for its ``rotated`` steps; a
level with ``ack_mode: all`` remembers who it paged, so the engine can wait for each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tocsin.escalation.level_rules import LevelRules
from tocsin.escalation.plan import EXHAUSTED, ROTATE, Firing, Run
from tocsin.escalation.targets import TargetExecutor
from tocsin.instants import MICROS_PER_MINUTE, from_micros
from tocsin.models import EscalationEvent, EscalationStatus, Notification, Recipient

__all__ = ["Firer", "RoundRobinCursor", "notification_key", "round_robin_cursor"]

# (policy id, level, how many recipients) -> where this rotation starts; see ``EscalationStore.next_round_robin``
RoundRobinCursor = Callable[[str, int, int], int]


def round_robin_cursor(store: object) -> RoundRobinCursor:
    """The store's ``next_round_robin``; a store without one gets a cursor kept in this process."""
    cursor: RoundRobinCursor | None = getattr(store, "next_round_robin", None)
    if cursor is not None:
        return cursor
    counters: dict[tuple[str, int], int] = {}

    def next_start(policy_id: str, level: int, size: int) -> int:
        started = counters.get((policy_id, level), 0)
        counters[policy_id, level] = started + 1
        return started % size

    return next_start


def notification_key(
    escalation_id: str, round: int, pass_number: int, level: int, channel: str, address: str, contact_number: int = 0
) -> str:
    """The idempotency key of one page: the same inputs always give the same key (level -1: an
    announcement, the routing ``notify`` message sent when the escalation's schedule begins). A person's
    second contact on one channel gets ``~1`` after the address, the third ``~2``: the first keeps the key
    it always had."""
    who = f"{channel}/{address}" if not contact_number else f"{channel}/{address}~{contact_number}"
    if level < 0:
        return f"{escalation_id}/notify/{who}"
    return f"{escalation_id}/r{round}/p{pass_number}/l{level}/{who}"


class Firer:
    """Collects due firings and fires levels for the engine."""

    __slots__ = ("_executor", "_late_after", "_round_robin")

    def __init__(self, executor: TargetExecutor, *, late_after: int, round_robin: RoundRobinCursor) -> None:
        self._executor = executor
        self._late_after = late_after  # microseconds
        self._round_robin = round_robin

    def collect(self, run: Run, now: int, events: list[EscalationEvent], manual: bool) -> list[tuple[Firing, bool]]:
        """Advance ``run`` through everything due at or before ``now``; returns (firing, late) to fire.

        With ``manual`` the run's current level was just moved by hand and fires first, on time.
        """
        firings: list[Firing] = []
        if manual:
            run.rotation = ()  # a new level: the previous one's rotation is over
            firings.append(Firing(run.round, run.pass_number, run.level, run.anchor))
        while True:
            event = run.next_event()
            if event is None or event[0] > now:
                break
            due, step = event
            if step is None:
                firings.append(self._retrigger(run, due, events))
                continue
            if step is ROTATE:
                firings.append(_rotate(run, due))
                continue
            if step is EXHAUSTED:
                firings.append(self.exhausted(run, due, events))
                continue
            if step[1] < 0:
                run.announced = True
            else:
                run.pass_number, run.level, run.anchor = step
                if run.rotation:
                    run.rotation = ()  # the next level is due: the rotation of this one is over
            firings.append(Firing(run.round, step[0], step[1], due))
        cut = now - self._late_after
        if not firings or firings[0].due >= cut:  # due times only grow: nothing is late
            return [(firing, False) for firing in firings]
        latest: dict[tuple[int, bool], int] = {}  # (level, round-robin step) -> its latest late occurrence
        for index, firing in enumerate(firings):
            if firing.due < cut:
                latest[firing.level, firing.step > 0] = index
        chosen: list[tuple[Firing, bool]] = []
        for index, firing in enumerate(firings):
            late = firing.due < cut
            if late and latest[firing.level, firing.step > 0] != index:
                events.append(
                    EscalationEvent(
                        at=from_micros(now),
                        kind="missed",
                        pass_number=firing.pass_number,
                        level=firing.level,
                        late=True,
                        detail=f"due {from_micros(firing.due).isoformat()}; replaced by a later occurrence",
                    )
                )
                continue
            chosen.append((firing, late))
        return chosen

    def _retrigger(self, run: Run, due: int, events: list[EscalationEvent]) -> Firing:
        """The acknowledgement timed out, or the snooze ran out: active again, and the acknowledged level
        fires again at ``due`` (in a new round, so its pages get new keys); the schedule goes on from there."""
        level = max(run.acked_level if run.acked_level is not None else -1, 0)
        if run.snoozed_until is not None:
            kind, detail = "snooze_ended", "the snooze ran out: re-triggered"
        else:
            timeout = (run.plan.ack_timeout or 0) // MICROS_PER_MINUTE
            kind, detail = "ack_timeout", f"not resolved within {timeout} minutes of the acknowledgement"
        events.append(
            EscalationEvent(
                at=from_micros(due), kind=kind, pass_number=run.pass_number, level=level, by=run.acked_by, detail=detail
            )
        )
        run.status = EscalationStatus.ACTIVE
        run.round += 1
        run.level, run.anchor = level, due
        run.acked_by = run.acked_at = run.acked_level = run.snoozed_until = None
        run.rotation = ()
        return Firing(run.round, run.pass_number, level, due)

    def exhausted(self, run: Run, due: int, events: list[EscalationEvent], by: str | None = None) -> Firing:
        """A completed (exhausted) escalation pages again as its ``on_exhausted`` says, at ``due`` (automatically,
        or ``by`` someone who escalated it): the last level again, or the ``page`` targets; in a new round, so
        the pages get new keys. The schedule of further ``repeat_last`` pages counts from ``due``."""
        level = run.exhausted_level()
        run.round += 1
        run.exhausted_pages += 1
        run.anchor = due
        plan = run.plan
        if plan.exhausted_every:
            minutes = plan.exhausted_every // MICROS_PER_MINUTE
            detail = (
                f"on_exhausted repeat_last: level {level} pages again (then every {minutes} minutes until answered)"
            )
        else:
            detail = f"on_exhausted page: the policy's on_exhausted targets are paged (as level {level})"
        events.append(
            EscalationEvent(
                at=from_micros(due),
                kind="exhausted_page",
                pass_number=run.pass_number,
                level=level,
                by=by,
                detail=detail,
            )
        )
        return Firing(run.round, run.pass_number, level, due)

    def fire(
        self,
        run: Run,
        firing: Firing,
        late: bool,
        now: datetime,
        notifications: list[Notification],
        events: list[EscalationEvent],
    ) -> bool:
        """Expand ``firing``'s level at ``now`` and append its notifications and journal events.

        Returns True when a level fired (not for an announcement, a round-robin step or a skipped level).
        """
        level = firing.level
        extra = ""
        plan = run.plan
        if level == len(plan.levels) and plan.exhausted_level is not None:  # on_exhausted: page its targets
            recipients, notes = self._executor.fire(plan.exhausted_level, now, run.incident)
            kind = "level_fired"
            extra = "; on_exhausted page"
        elif level >= 0 and not firing.step:
            kind = "level_fired"
            if plan.rules is None:  # a plain policy: nothing but the targets
                recipients, notes = self._executor.fire(plan.levels[level], now, run.incident)
            else:
                fired = self._fire_smart(run, firing, late, now, events)
                if fired is None:
                    return False  # skipped
                recipients, notes, extra = fired
        elif level < 0:
            recipients = list(run.announce)
            notes = []
            kind = "announced"
        else:
            recipients = list(firing.recipients)
            notes = []
            kind = "rotated"
            extra = f"; round robin step {firing.step}: {recipients[0].address}"
        due = from_micros(firing.due)
        escalation_id = run.escalation_id
        incident = run.incident
        policy_id = run.plan.policy.id
        paged = tuple(dict.fromkeys(recipient.address for recipient in recipients))  # each person once, in order
        for recipient in recipients:
            notifications.append(
                Notification(
                    key=notification_key(
                        escalation_id,
                        firing.round,
                        firing.pass_number,
                        firing.level,
                        recipient.channel,
                        recipient.address,
                        recipient.contact_number,
                    ),
                    incident_id=incident.id,
                    policy_id=policy_id,
                    pass_number=firing.pass_number,
                    level=firing.level,
                    recipient=recipient,
                    due_at=due,
                    late=late,
                    incident=incident,
                    escalation_id=escalation_id,
                    round=firing.round,
                    fired_at=now,
                    paged=paged,
                )
            )
        detail = f"{len(recipients)} recipient(s){extra}" + (f"; due {due.isoformat()}" if late else "")
        events.append(
            EscalationEvent(at=now, kind=kind, pass_number=firing.pass_number, level=level, late=late, detail=detail)
        )
        for note, message in notes:
            events.append(
                EscalationEvent(at=now, kind=note, pass_number=firing.pass_number, level=level, detail=message)
            )
        return kind == "level_fired"

    def _fire_smart(
        self, run: Run, firing: Firing, late: bool, now: datetime, events: list[EscalationEvent]
    ) -> tuple[list[Recipient], list[tuple[str, str]], str] | None:
        """A level of a smart policy comes due: (recipients, notes, more journal detail), or None when its
        ``when`` is false (journalled as ``level_skipped``). Either way it ends the previous level's rotation."""
        level = firing.level
        run.rotation, run.rotation_step = (), 0
        smart_rules = run.plan.rules
        assert smart_rules is not None  # _fire calls this for a smart policy only
        rules = smart_rules[level]
        if rules is None:
            recipients, notes = self._executor.fire(run.plan.levels[level], now, run.incident)
            run.awaiting = run.acks = ()
            run.paged_level = level
            return recipients, notes, ""
        reason = rules.skip_reason(run.incident, firing.due)
        if reason is not None:
            event = EscalationEvent(
                at=now, kind="level_skipped", pass_number=firing.pass_number, level=level, late=late, detail=reason
            )
            events.append(event)
            return None
        run.paged_level = level
        return self._smart(run, rules, level, now)

    def _smart(
        self, run: Run, rules: LevelRules, level: int, now: datetime
    ) -> tuple[list[Recipient], list[tuple[str, str]], str]:
        """Fire a smart level that runs: (recipients paged now, notes, more journal detail)."""
        people: list[str] = []
        recipients, notes = self._executor.fire(run.plan.levels[level], now, run.incident, people=people)
        run.awaiting = tuple(people) if rules.ack_all else ()
        run.acks = ()
        if rules.ack_all:
            return recipients, notes, f"; every one of {len(people)} must acknowledge" if people else ""
        if not rules.rotate_after or not recipients:
            return recipients, notes, ""
        groups: dict[str, list[Recipient]] = {}
        for recipient in recipients:
            groups.setdefault(recipient.address, []).append(recipient)
        order = list(groups)
        start = self._round_robin(run.plan.policy.id, level, len(order))
        order = order[start:] + order[:start]
        run.rotation = tuple(recipient for address in order[1:] for recipient in groups[address])
        minutes = rules.rotate_after // MICROS_PER_MINUTE
        extra = f"; round robin: {order[0]} first of {len(order)}, moving on every {minutes}m without an ack"
        return groups[order[0]], notes, extra


def _rotate(run: Run, due: int) -> Firing:
    """A round-robin step: the next person of the rotation (all their recipients), taken off it."""
    rotation = run.rotation
    address = rotation[0].address
    count = 1
    while count < len(rotation) and rotation[count].address == address:
        count += 1
    run.rotation = rotation[count:]
    run.rotation_step += 1
    return Firing(run.round, run.pass_number, run.level, due, run.rotation_step, rotation[:count])
