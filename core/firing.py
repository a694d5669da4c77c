"""Walking an escalation forward in time, and turning a level that fires into notifications.

:meth:`Firer.collect` moves a record through everything due up to "now" (levels, ack timeouts) and says
which levels fire. When the engine was down, every missed firing is overdue at once: each missed *level*
fires once (its latest missed occurrence), in order, marked late, and the schedule keeps its anchor; the
earlier occurrences it replaces are journalled as ``missed``. :meth:`Firer.fire` expands one level's
targets and builds its notifications, each with its stable idempotency key.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.escalation_plan import Firing, Run
from tocsin.executor import TargetExecutor
from tocsin.instants import MICROS_PER_MINUTE, from_micros
from tocsin.models import EscalationEvent, EscalationStatus, Notification, Recipient

__all__ = ["Firer", "notification_key"]


def notification_key(escalation_id: str, round: int, pass_number: int, level: int, channel: str, address: str) -> str:
    """The idempotency key of one page: the same inputs always give the same key (level -1: an
    announcement, the routing ``notify`` message sent when the escalation's schedule begins)."""
    if level < 0:
        return f"{escalation_id}/notify/{channel}/{address}"
    return f"{escalation_id}/r{round}/p{pass_number}/l{level}/{channel}/{address}"


class Firer:
    """Collects due firings and fires levels for the engine."""

    __slots__ = ("_executor", "_late_after")

    def __init__(self, executor: TargetExecutor, *, late_after: int) -> None:
        self._executor = executor
        self._late_after = late_after  # microseconds

    def collect(self, run: Run, now: int, events: list[EscalationEvent], manual: bool) -> list[tuple[Firing, bool]]:
        """Advance ``run`` through everything due at or before ``now``; returns (firing, late) to fire.

        With ``manual`` the run's current level was just moved by hand and fires first, on time.
        """
        firings: list[Firing] = []
        if manual:
            firings.append(Firing(run.round, run.pass_number, run.level, run.anchor))
        while True:
            event = run.next_event()
            if event is None or event[0] > now:
                break
            due, firing = event
            if firing is None:
                self._retrigger(run, due, events)
                continue
            if firing[1] < 0:
                run.announced = True
            else:
                run.pass_number, run.level, run.anchor = firing
            firings.append(Firing(run.round, firing[0], firing[1], due))
        cut = now - self._late_after
        if not firings or firings[0].due >= cut:  # due times only grow: nothing is late
            return [(firing, False) for firing in firings]
        latest: dict[int, int] = {}
        for index, firing in enumerate(firings):
            if firing.due < cut:
                latest[firing.level] = index
        chosen: list[tuple[Firing, bool]] = []
        for index, firing in enumerate(firings):
            late = firing.due < cut
            if late and latest[firing.level] != index:
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

    def _retrigger(self, run: Run, due: int, events: list[EscalationEvent]) -> None:
        """The acknowledgement timed out: active again, the acknowledged level fires again at ``due``."""
        plan = run.plan
        level = max(run.acked_level if run.acked_level is not None else -1, 0)
        timeout = (plan.ack_timeout or 0) // MICROS_PER_MINUTE
        events.append(
            EscalationEvent(
                at=from_micros(due),
                kind="ack_timeout",
                pass_number=run.pass_number,
                level=level,
                by=run.acked_by,
                detail=f"not resolved within {timeout} minutes of the acknowledgement",
            )
        )
        run.status = EscalationStatus.ACTIVE
        run.round += 1
        run.level = level - 1
        run.anchor = due - plan.delays[level]
        run.acked_by = run.acked_at = run.acked_level = None

    def fire(
        self,
        run: Run,
        firing: Firing,
        late: bool,
        now: datetime,
        notifications: list[Notification],
        events: list[EscalationEvent],
    ) -> None:
        """Expand ``firing``'s level at ``now`` and append its notifications and journal events."""
        if firing.level < 0:
            recipients: list[Recipient] = list(run.announce)
            notes: list[tuple[str, str]] = []
        else:
            recipients, notes = self._executor.fire(run.plan.levels[firing.level], now, run.incident)
        due = from_micros(firing.due)
        escalation_id = run.escalation_id
        incident = run.incident
        policy_id = run.plan.policy.id
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
                )
            )
        detail = f"{len(recipients)} recipient(s)" + (f"; due {due.isoformat()}" if late else "")
        kind = "announced" if firing.level < 0 else "level_fired"
        events.append(
            EscalationEvent(
                at=now, kind=kind, pass_number=firing.pass_number, level=firing.level, late=late, detail=detail
            )
        )
        for kind, message in notes:
            events.append(
                EscalationEvent(at=now, kind=kind, pass_number=firing.pass_number, level=firing.level, detail=message)
            )
