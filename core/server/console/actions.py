"""What a person can do to an incident from its page: one table of actions, each a button (and its fields)
that calls the very :class:`~tocsin.server.service.Service` method the API's endpoint calls.

An action is shown when the session's scope covers it and the incident is in a state it applies to; the
server checks both again when the form is posted (and the service decides, as for the API). Adding an action
is one entry in :data:`ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import attrs

from tocsin.config.serving import Scope
from tocsin.models import EscalationStatus, Incident
from tocsin.server.console.web import checked
from tocsin.server.errors import ApiError
from tocsin.server.service import Service
from tocsin.server.views import (
    MAX_NOTE,
    MAX_SNOOZE_MINUTES,
    IncidentDetail,
    NoteRequest,
    ReassignRequest,
    SnoozeRequest,
)

__all__ = ["ACTIONS", "Choice", "Field", "IncidentAction", "Options", "action_named"]

# Runs the action: (service, incident id, who acts, the form's fields) -> what the service answered.
Run = Callable[[Service, str, str | None, Mapping[str, str]], Awaitable[object]]


@attrs.frozen(kw_only=True)
class Choice:
    """One option of a ``select`` field: the value posted and the words shown."""

    value: str
    label: str


# A select's options in groups, in the order shown: (the group's label, its options).
Options = tuple[tuple[str, tuple[Choice, ...]], ...]


@attrs.frozen(kw_only=True)
class Field:
    """One input of an action's form: ``kind`` is an ``<input>`` type, ``textarea``, or ``select`` (whose options
    ``choices`` lists, in groups, from the service's config in force)."""

    name: str
    label: str
    kind: str = "text"
    default: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    choices: Callable[[Service], Options] | None = None


@attrs.frozen(kw_only=True)
class IncidentAction:
    """A button on the incident page: its path segment, label, the scope it needs, when it applies, what it
    runs, and the fields its form asks for. ``done`` is the sentence shown after it worked."""

    name: str
    label: str
    scope: Scope
    applies: Callable[[IncidentDetail], bool]
    run: Run
    done: str
    fields: tuple[Field, ...] = ()
    style: str = "primary"  # the button's look: primary, secondary (work on the incident), danger

    def shown(self, detail: IncidentDetail, scope: Scope | None) -> bool:
        """Whether a session with ``scope`` sees this action on ``detail``'s page."""
        return scope is not None and scope.allows(self.scope) and self.applies(detail)


def _status(detail: IncidentDetail) -> EscalationStatus | None:
    return detail.escalation.status if detail.escalation is not None else None


def _open(incident: Incident) -> bool:
    return incident.state.is_open


# An exhausted escalation (completed: every level fired unanswered) is open: it can be acknowledged, snoozed (which
# acknowledges it), escalated (as its policy's on_exhausted says) and cancelled, as through the API.
_EXHAUSTED = EscalationStatus.COMPLETED
_ANSWERABLE = (EscalationStatus.ACTIVE, _EXHAUSTED)
_RUNNING = (EscalationStatus.ACTIVE, EscalationStatus.ACKNOWLEDGED, _EXHAUSTED)


def _escalatable(detail: IncidentDetail) -> bool:
    """A level is left to fire (in this pass or a repeat), or the escalation is exhausted (escalating it does what
    on_exhausted says): when the engine's ``escalate_now`` has something to do."""
    escalation = detail.escalation
    if escalation is None or not _open(detail.incident) or escalation.status not in _RUNNING:
        return False
    if escalation.status is _EXHAUSTED or escalation.current_level + 1 < len(escalation.policy.levels):
        return True
    repeat = escalation.policy.repeat
    return escalation.pass_number < (repeat.max_repeats if repeat is not None else 0)


def _snooze(service: Service, incident_id: str, by: str | None, form: Mapping[str, str]) -> Awaitable[object]:
    text = form.get("minutes", "").strip()
    if not text.isdigit():
        raise ApiError(422, f"minutes: expected a whole number of minutes (1 to {MAX_SNOOZE_MINUTES}), got {text!r}")
    request: SnoozeRequest = checked(SnoozeRequest, minutes=int(text), by=by)
    return service.commits.run(lambda: service.snooze(incident_id, request.minutes, request.by))


def _note(service: Service, incident_id: str, by: str | None, form: Mapping[str, str]) -> Awaitable[object]:
    return service.add_note(incident_id, checked(NoteRequest, text=form.get("text", "").strip()), by)


def _reassign(service: Service, incident_id: str, by: str | None, form: Mapping[str, str]) -> Awaitable[object]:
    kind, _, name = form.get("to", "").partition(":")
    if kind not in ("policy", "user") or not name:
        raise ApiError(422, "to: choose a policy or a person to reassign the incident to")
    return service.reassign(incident_id, checked(ReassignRequest, **{kind: name}), by)


def _targets(service: Service) -> Options:
    """Whom an incident may be reassigned to: the enabled policies of the config in force, then its people."""
    policies = tuple(
        Choice(value=f"policy:{policy.id}", label=policy.name or policy.id)
        for policy in service.config.policies
        if policy.enabled
    )
    people = tuple(Choice(value=f"user:{person}", label=person) for person in sorted(service.loaded.people))
    return (("Policies", policies), ("People", people))


def _acted(call: Callable[[Service, str, str | None], object]) -> Run:
    """An action that is one of the service's plain calls, run in a unit of work as the API runs it."""

    def run(service: Service, incident_id: str, by: str | None, form: Mapping[str, str]) -> Awaitable[object]:
        return service.commits.run(lambda: call(service, incident_id, by))

    return run


ACTIONS: tuple[IncidentAction, ...] = (
    IncidentAction(
        name="acknowledge",
        label="Acknowledge",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident) and _status(detail) in _ANSWERABLE,
        run=_acted(Service.acknowledge),
        done="Acknowledged: levels that stop on acknowledgement will not fire.",
    ),
    IncidentAction(
        name="unacknowledge",
        label="Un-acknowledge",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident) and _status(detail) is EscalationStatus.ACKNOWLEDGED,
        run=lambda service, incident_id, by, form: service.unacknowledge(incident_id, by),
        done="Acknowledgement taken back: the escalation goes on at its next level.",
    ),
    IncidentAction(
        name="resolve",
        label="Resolve",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident),
        run=_acted(Service.resolve),
        done="Resolved: paging has stopped.",
    ),
    IncidentAction(
        name="snooze",
        label="Snooze",
        scope=Scope.RESPOND,
        applies=lambda detail: (
            _open(detail.incident) and _status(detail) in (EscalationStatus.ACKNOWLEDGED, _EXHAUSTED)
        ),
        run=_snooze,
        done="Snoozed: unresolved by then, it pages again.",
        fields=(
            Field(name="minutes", label="Minutes", kind="number", default="60", minimum=1, maximum=MAX_SNOOZE_MINUTES),
        ),
    ),
    IncidentAction(
        name="escalate",
        label="Escalate now",
        scope=Scope.RESPOND,
        applies=_escalatable,
        run=_acted(Service.escalate),
        done="Escalated: the next level fired now.",
    ),
    IncidentAction(
        name="reassign",
        label="Reassign",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident),
        run=_reassign,
        done="Reassigned: the escalation started again on the new target.",
        fields=(Field(name="to", label="To", kind="select", choices=_targets),),
        style="secondary",
    ),
    IncidentAction(
        name="note",
        label="Add note",
        scope=Scope.RESPOND,
        applies=lambda detail: True,
        run=_note,
        done="Note added to the timeline.",
        fields=(Field(name="text", label="Note", kind="textarea", max_length=MAX_NOTE),),
        style="secondary",
    ),
    IncidentAction(
        name="cancel",
        label="Cancel escalation",
        scope=Scope.ADMIN,
        applies=lambda detail: _status(detail) in _RUNNING,
        run=_acted(Service.cancel),
        done="Escalation cancelled: nobody more is paged; the incident stays open.",
        style="danger",
    ),
)

_BY_NAME = {action.name: action for action in ACTIONS}


def action_named(name: str) -> IncidentAction | None:
    """The action whose path segment is ``name``."""
    return _BY_NAME.get(name)
