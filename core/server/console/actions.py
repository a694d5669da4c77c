"""What a person can do to an incident from its page: one table of actions, each a button (and its fields)
that calls the very :class:`~tocsin.server.service.Service` method the API's endpoint calls.

An action is shown when the session's scope covers it and the incident is in a state it applies to; the
server checks both again when the form is posted (and the service decides, as for the API). Adding an action
is one entry in :data:`ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from tocsin.config.serving import Scope
from tocsin.errors import FieldError
from tocsin.models import EscalationStatus, Incident
from tocsin.server.errors import ApiError
from tocsin.server.service import Service
from tocsin.server.views import MAX_SNOOZE_MINUTES, IncidentDetail, SnoozeRequest

__all__ = ["ACTIONS", "Field", "IncidentAction", "action_named"]

# Runs the action: (service, incident id, who acts, the form's fields) -> the incident after it.
Run = Callable[[Service, str, str | None, Mapping[str, str]], IncidentDetail]


@attrs.frozen(kw_only=True)
class Field:
    """One input of an action's form."""

    name: str
    label: str
    kind: str = "text"  # an <input> type
    default: str = ""
    minimum: int | None = None
    maximum: int | None = None


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
    danger: bool = False

    def shown(self, detail: IncidentDetail, scope: Scope | None) -> bool:
        """Whether a session with ``scope`` sees this action on ``detail``'s page."""
        return scope is not None and scope.allows(self.scope) and self.applies(detail)


def _status(detail: IncidentDetail) -> EscalationStatus | None:
    return detail.escalation.status if detail.escalation is not None else None


def _open(incident: Incident) -> bool:
    return incident.state.is_open


def _snooze(service: Service, incident_id: str, by: str | None, form: Mapping[str, str]) -> IncidentDetail:
    text = form.get("minutes", "").strip()
    if not text.isdigit():
        raise ApiError(422, f"minutes: expected a whole number of minutes (1 to {MAX_SNOOZE_MINUTES}), got {text!r}")
    try:
        request = SnoozeRequest(minutes=int(text), by=by)  # the API's own check of the minutes
    except FieldError as exc:
        raise ApiError(422, f"{exc.field}: {exc.message}") from None
    return service.snooze(incident_id, request.minutes, request.by)


ACTIONS: tuple[IncidentAction, ...] = (
    IncidentAction(
        name="acknowledge",
        label="Acknowledge",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident) and _status(detail) is EscalationStatus.ACTIVE,
        run=lambda service, incident_id, by, form: service.acknowledge(incident_id, by),
        done="Acknowledged: levels that stop on acknowledgement will not fire.",
    ),
    IncidentAction(
        name="resolve",
        label="Resolve",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident),
        run=lambda service, incident_id, by, form: service.resolve(incident_id, by),
        done="Resolved: paging has stopped.",
    ),
    IncidentAction(
        name="snooze",
        label="Snooze",
        scope=Scope.RESPOND,
        applies=lambda detail: _open(detail.incident) and _status(detail) is EscalationStatus.ACKNOWLEDGED,
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
        applies=lambda detail: (
            _open(detail.incident)
            and detail.escalation is not None
            and detail.escalation.status in (EscalationStatus.ACTIVE, EscalationStatus.ACKNOWLEDGED)
            and detail.escalation.current_level + 1 < len(detail.escalation.policy.levels)
        ),
        run=lambda service, incident_id, by, form: service.escalate(incident_id, by),
        done="Escalated: the next level fired now.",
    ),
    IncidentAction(
        name="cancel",
        label="Cancel escalation",
        scope=Scope.ADMIN,
        applies=lambda detail: _status(detail) in (EscalationStatus.ACTIVE, EscalationStatus.ACKNOWLEDGED),
        run=lambda service, incident_id, by, form: service.cancel(incident_id, by),
        done="Escalation cancelled: nobody more is paged; the incident stays open.",
        danger=True,
    ),
)

_BY_NAME = {action.name: action for action in ACTIONS}


def action_named(name: str) -> IncidentAction | None:
    """The action whose path segment is ``name``."""
    return _BY_NAME.get(name)
