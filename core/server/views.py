"""What the API accepts and answers, as attrs classes next to the models they carry, and the converter that
writes them as JSON.

Bodies are the models themselves where one fits (an :class:`~tocsin.models.Incident`, an
:class:`~tocsin.models.EscalationState`, an :class:`~tocsin.intake.processor.ProcessResult`); the classes here only
wrap them (a page of incidents, an error). The OpenAPI document is generated from the same classes, so
what the schema says and what the server sends cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import cattrs

from tocsin.convert import make_converter
from tocsin.models import Delivery, EscalationPolicy, EscalationState, FieldError, Incident, OnCallSchedule, Severity
from tocsin.registry import Registry
from tocsin.schedules.answers import Gap
from tocsin.schedules.resolver import OnCallEntry, Shift

__all__ = [
    "MAX_SNOOZE_MINUTES",
    "ActionRequest",
    "EvaluateRequest",
    "GapList",
    "Health",
    "IncidentDetail",
    "IncidentPage",
    "IncidentPatch",
    "MatchedRule",
    "OnCallAnswer",
    "PolicyList",
    "Problem",
    "ProblemDetail",
    "RouteAnswer",
    "ScheduleList",
    "ShiftList",
    "SnoozeRequest",
    "public_state",
    "response_converter",
]


# --- what the API accepts -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ActionRequest:
    """The optional body of acknowledge, resolve, cancel and escalate: who acts (default: the token's name)."""

    by: str | None = None


MAX_SNOOZE_MINUTES = 525_600  # a year


def _snooze_minutes(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= MAX_SNOOZE_MINUTES:
        raise FieldError(attribute.name, f"must be 1 to {MAX_SNOOZE_MINUTES} minutes, got {value}")


@attrs.frozen(kw_only=True)
class SnoozeRequest:
    """Snooze an acknowledged escalation for ``minutes``; who snoozes (default: the token's name)."""

    minutes: int = attrs.field(validator=_snooze_minutes)
    by: str | None = None


@attrs.frozen(kw_only=True)
class IncidentPatch:
    """``PATCH /v1/incidents/{id}``: the fields to change (none: nothing changes); ``by`` is who changes them
    (default: the token's name). ``labels`` replaces the labels as a whole."""

    title: str | None = None
    description: str | None = None
    severity: Severity | None = None
    labels: dict[str, str] | None = None
    by: str | None = None

    def changes(self) -> dict[str, object]:
        """The fields given, by name."""
        found = {"title": self.title, "description": self.description, "severity": self.severity, "labels": self.labels}
        return {name: value for name, value in found.items() if value is not None}


@attrs.frozen(kw_only=True)
class EvaluateRequest:
    """A routing dry run: the incident to route; ``explain`` adds every rule's conditions and verdict."""

    incident: Incident
    explain: bool = True


# --- what the API answers -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProblemDetail:
    """One fault in a request: where (``body``, ``query``, ``path`` or ``header``), the JSONPath, and what."""

    location: str
    path: str
    message: str


@attrs.frozen(kw_only=True)
class Problem:
    """Every error answer: a sentence saying what went wrong, and for a 422 each fault with its path."""

    error: str
    errors: tuple[ProblemDetail, ...] = ()


@attrs.frozen(kw_only=True)
class IncidentDetail:
    """An incident, how many repeats were folded into it, and its escalation (None when none started)."""

    incident: Incident
    duplicates: int
    escalation: EscalationState | None


@attrs.frozen(kw_only=True)
class IncidentPage:
    """One page of incidents, newest first; ``next_offset`` asks for the next page (None: this is the last)."""

    incidents: tuple[Incident, ...]
    offset: int
    limit: int
    next_offset: int | None


@attrs.frozen(kw_only=True)
class PolicyList:
    """The escalation policies, in the order the config lists them."""

    policies: tuple[EscalationPolicy, ...]


@attrs.frozen(kw_only=True)
class DeliveryList:
    """Notifications given up on (dead-lettered), the most recently given up first."""

    deliveries: tuple[Delivery, ...]


@attrs.frozen(kw_only=True)
class ScheduleList:
    """The on-call schedules, in the order the config lists them."""

    schedules: tuple[OnCallSchedule, ...]


@attrs.frozen(kw_only=True)
class OnCallAnswer:
    """Who is on call for ``schedule`` at ``at`` (an empty list: nobody)."""

    schedule: str
    at: datetime
    oncall: tuple[OnCallEntry, ...]


@attrs.frozen(kw_only=True)
class ShiftList:
    """The final shifts of ``schedule`` from ``start`` to ``end``."""

    schedule: str
    start: datetime
    end: datetime
    shifts: tuple[Shift, ...]


@attrs.frozen(kw_only=True)
class GapList:
    """The stretches of ``schedule`` from ``start`` to ``end`` with nobody on call."""

    schedule: str
    start: datetime
    end: datetime
    gaps: tuple[Gap, ...]


@attrs.frozen(kw_only=True)
class MatchedRule:
    """A routing rule that matched, in evaluation order."""

    rule: str
    priority: int


@attrs.frozen(kw_only=True)
class RouteAnswer:
    """A routing dry run, as ``tocsin route --json --explain`` prints it (``explain`` empty when not asked)."""

    matched: tuple[MatchedRule, ...]
    incident: Incident
    policy: str | None
    notify_channels: tuple[str, ...]
    suppress_minutes: int | None
    explain: tuple[dict[str, Any], ...]


@attrs.frozen(kw_only=True)
class Health:
    """The service is up: its version, store, open escalations, how far the timer is behind (seconds) and its
    part in claiming due work. ``status`` is ``ok``, or ``store failing`` (answered with 503) with
    ``store_error`` saying what is wrong."""

    status: str
    version: str
    storage: str
    open_escalations: int
    monitor_lag_seconds: float
    instance_id: str  # the owner of the due work this instance claims, among instances sharing the store
    claim_every_seconds: float  # how often it claims due work no live instance holds
    lease_seconds: float  # how long claimed due work stays its own
    store_error: str | None = None


def public_state(state: EscalationState) -> EscalationState:
    """``state`` as the API shows it: notifications without their copy of the incident (it is the incident
    of the escalation) and without contact details (they may hold a webhook's secret headers)."""
    return attrs.evolve(state, deliveries=tuple(_public(delivery) for delivery in state.deliveries))


def _public(delivery: Delivery) -> Delivery:
    notification = delivery.notification
    recipient = attrs.evolve(notification.recipient, contact=None)
    return attrs.evolve(delivery, notification=attrs.evolve(notification, incident=None, recipient=recipient))


def response_converter(registry: Registry) -> cattrs.Converter:
    """The config converter, writing every field (defaults too), named tuples as objects."""
    converter = make_converter(registry)
    converter.omit_if_default = False  # an answer always has every field its schema requires
    converter.register_unstructure_hook(OnCallEntry, OnCallEntry.as_dict)
    converter.register_unstructure_hook(Shift, Shift.as_dict)
    converter.register_unstructure_hook(Gap, Gap.as_dict)
    return converter
