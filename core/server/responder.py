"""Actions taken from a page (an action link, a chat button), each in ONE store transaction with the one-time
key that authorized it.

:class:`PageResponder` is the :class:`~tocsin.responding.Responder` the server hands to action links and to
channels' interaction handlers. It checks that the escalation named is the incident's current one, takes the
action through the engine or the incident processor, and says what happened in a sentence. An action that
changes nothing (already acknowledged, already resolved) rolls its transaction back, so the link that asked
for it stays unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tocsin.clock import Clock
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.errors import EscalationError
from tocsin.instants import from_micros
from tocsin.intake.processor import IncidentProcessor
from tocsin.models import EscalationState, EscalationStatus, User
from tocsin.responding import SNOOZE_MINUTES, ActionOutcome, ActionStatus, OneTimeKey, PageAction
from tocsin.store.group import Commits
from tocsin.store.interfaces import EscalationRow

__all__ = ["PageResponder", "escalation_incident"]

_ACTIVE = EscalationStatus.ACTIVE
_ACKNOWLEDGED = EscalationStatus.ACKNOWLEDGED
_EXHAUSTED = EscalationStatus.COMPLETED  # every level fired unanswered: still open, and a page can answer it


def escalation_incident(escalation_id: str) -> str:
    """The incident an escalation id belongs to (``inc-1#2`` -> ``inc-1``)."""
    return escalation_id.rpartition("#")[0]


def when(instant: datetime | None) -> str:
    """An instant as pages show it: ``2026-03-02 14:05 UTC``."""
    return f"{instant:%Y-%m-%d %H:%M} UTC" if instant is not None else "an unknown time"


class _NoChange(Exception):
    """Rolls the action's transaction back (nothing changed, the one-time key stays unused)."""

    def __init__(self, outcome: ActionOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class PageResponder:
    """Acts for the server's action links and channel interactions: through ``engine`` and ``processor``, each
    action one unit of work run by ``commits`` (the server's group commit)."""

    def __init__(
        self,
        engine: EscalationEngine,
        processor: IncidentProcessor,
        commits: Commits,
        clock: Clock,
        users: Mapping[str, User],
    ) -> None:
        self._engine = engine
        self._processor = processor
        self._commits = commits
        self._clock = clock
        self._users = users

    @property
    def users(self) -> Mapping[str, User]:
        """The configured people by address."""
        return self._users

    async def act(
        self, escalation_id: str, action: PageAction, *, by: str, once: OneTimeKey | None = None
    ) -> ActionOutcome:
        """Take ``action`` on ``escalation_id`` for ``by`` in one transaction; see ``tocsin.responding.Responder``."""
        try:
            return await self._commits.run(lambda: self._act(escalation_id, action, by, once))
        except _NoChange as unchanged:
            return unchanged.outcome

    def _act(self, escalation_id: str, action: PageAction, by: str, once: OneTimeKey | None) -> ActionOutcome:
        store = self._engine.store
        incident_id = escalation_incident(escalation_id)
        incident = self._processor.get_incident(incident_id)
        title = incident.title if incident is not None else ""

        def outcome(status: ActionStatus, message: str) -> ActionOutcome:
            return ActionOutcome(
                action=action,
                status=status,
                message=message,
                escalation_id=escalation_id,
                incident_id=incident_id,
                title=title,
            )

        if once is not None:
            used = store.use_once(once.key, at=self._clock.now(), expires_at=once.expires_at)
            if used is not None:
                raise _NoChange(outcome(ActionStatus.USED, f"This link was already used, at {when(used)}."))
        row = store.load(incident_id)
        if row is None or incident is None:
            raise _NoChange(outcome(ActionStatus.GONE, f"There is no escalation {escalation_id!r}."))
        if row.escalation_id != escalation_id:
            ended = (
                f"This page was for escalation {escalation_id} of incident {incident_id}, which has ended; its "
                f"current escalation is {row.escalation_id}. Act from its own page."
            )
            raise _NoChange(outcome(ActionStatus.GONE, ended))
        try:
            message = self._perform(action, row, by)
        except EscalationError as exc:
            raise _NoChange(outcome(ActionStatus.UNCHANGED, f"Nothing was changed: {exc}.")) from None
        if message is None:
            raise _NoChange(outcome(ActionStatus.UNCHANGED, _why_unchanged(action, row, incident.state.is_open)))
        return outcome(ActionStatus.DONE, message)

    def _perform(self, action: PageAction, row: EscalationRow, by: str) -> str | None:
        """Take the action; its message, or None when there is nothing to do in the escalation's state."""
        engine = self._engine
        incident_id = row.incident_id
        if action is PageAction.RESOLVE:
            incident = self._processor.get_incident(incident_id)
            if incident is None or not incident.state.is_open:
                return None
            self._processor.resolve_incident(incident_id, by=by)
            return f"Incident {incident_id} resolved by {by}; its escalation is over."
        if row.status not in (_ACTIVE, _ACKNOWLEDGED, _EXHAUSTED):
            return None
        if action is PageAction.ESCALATE:
            state = engine.escalate_now(incident_id, by=by)
            return f"Escalated by {by}: level {state.current_level} is paged now."
        if action is PageAction.ACKNOWLEDGE:
            if row.status is _ACKNOWLEDGED:
                return None
            return _acknowledged(engine.acknowledge_escalation(incident_id, by), by)
        # Snooze: an acknowledged escalation is snoozed; an active one is acknowledged and snoozed at once (the
        # engine does both for an exhausted one).
        done = f"Snoozed by {by}" if row.status is _ACKNOWLEDGED else f"Acknowledged by {by} and snoozed"
        if row.status is _ACTIVE:
            state = engine.acknowledge_escalation(incident_id, by)
            if state.status is not _ACKNOWLEDGED:
                return f"{_acknowledged(state, by)} It cannot be snoozed until everyone paged acknowledges."
        state = engine.snooze(incident_id, SNOOZE_MINUTES, by=by)
        until = when(state.snoozed_until)
        return f"{done} for {SNOOZE_MINUTES} minutes, until {until}: unresolved by then, it pages again."


def _acknowledged(state: EscalationState, by: str) -> str:
    if state.status is _ACKNOWLEDGED:
        return f"Acknowledged by {by}: the next levels will not be paged."
    waiting = ", ".join(person for person in state.awaiting_acks if person not in state.acks)
    return f"{by}'s acknowledgement is recorded; still waiting for {waiting}."


def _why_unchanged(action: PageAction, row: EscalationRow, incident_open: bool) -> str:
    """Why ``action`` had nothing to do on ``row``."""
    if action is PageAction.RESOLVE and not incident_open:
        return f"Incident {row.incident_id} is already resolved; nothing was changed."
    if row.status is _ACKNOWLEDGED:
        at = from_micros(row.acknowledged_at) if row.acknowledged_at is not None else None
        return f"Already acknowledged by {row.acknowledged_by} at {when(at)}; nothing was changed."
    ended = from_micros(row.ended_at) if row.ended_at is not None else None
    return f"The escalation is {row.status.value} (since {when(ended)}); nothing was changed."
