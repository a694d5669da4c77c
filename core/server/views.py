"""What the API accepts and answers, as attrs classes next to the models they carry, and the converter that
writes them as JSON.

Bodies are the models themselves where one fits (an :class:`~tocsin.models.Incident`, an
:class:`~tocsin.models.EscalationState`, an :class:`~tocsin.intake.processor.ProcessResult`); the classes here only
wrap them (a page of incidents, an error). The OpenAPI document is generated from the same classes, so
what the schema says and what the server sends cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from tocsin.convert import make_converter
from tocsin.escalation.overrides import ShiftClaim
from tocsin.models import (
    Delivery,
    EscalationPolicy,
    EscalationState,
    FieldError,
    Incident,
    MaintenanceMatch,
    Notification,
    OnCallSchedule,
    OnEnd,
    Recipient,
    Severity,
)
from tocsin.registry import Registry
from tocsin.schedules.resolver import Gap, OnCallEntry, Shift
from tocsin.store.records import IncidentNote, MaintenanceWindow, ScheduleOverride, Suppression

__all__ = [
    "DURATION_PATTERN",
    "MAX_NOTE",
    "MAX_SNOOZE_MINUTES",
    "RECORD_ID_PATTERN",
    "ActionRequest",
    "ConfigReloaded",
    "EvaluateRequest",
    "GapList",
    "Health",
    "HeartbeatList",
    "HeartbeatStatus",
    "IncidentDetail",
    "IncidentPage",
    "IncidentPatch",
    "MaintenanceEnded",
    "MaintenanceList",
    "MaintenanceRequest",
    "MatchedRule",
    "NoteList",
    "NoteRequest",
    "OnCallAnswer",
    "OverrideEntry",
    "OverrideList",
    "OverrideRemoved",
    "OverrideRequest",
    "PolicyList",
    "Problem",
    "ProblemDetail",
    "ReassignRequest",
    "RouteAnswer",
    "ScheduleList",
    "ShiftList",
    "SnoozeRequest",
    "SwapAnswer",
    "SwapRequest",
    "Timeline",
    "TimelineEntry",
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


def _text(limit: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
        if len(value) > limit:
            raise FieldError(attribute.name, f"must be at most {limit} characters, got {len(value)}")

    return check


MAX_NOTE = 4000  # characters of a note on an override, a swap, an incident or a maintenance window
# A request's duration: up to six digits (and decimals) of one unit, more than nothing: "30m", "1.5h", "7d".
DURATION_PATTERN = "(?=[0-9.]*[1-9])[0-9]{1,6}(?:[.][0-9]{1,6})?[smhd]"


RECORD_ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # an id a client gives an override or a window


def _record_id(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(RECORD_ID_PATTERN, value):
        raise FieldError(attribute.name, "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")


def _duration(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(DURATION_PATTERN, value):
        raise FieldError(attribute.name, f"expected a duration such as 30m, 2h or 1d, got {value!r}")


@attrs.frozen(kw_only=True)
class OverrideRequest:
    """An override to make: ``user`` on call from ``start`` (default: now) until ``end``, instead of whoever
    the schedule says (for ``layer`` only, when given); ``by`` is who makes it (default: the token's name);
    ``id`` names it (default: a new one), so that a retry cannot make it twice."""

    user: str
    end: datetime
    start: datetime | None = None
    layer: str | None = None
    note: str = attrs.field(default="", validator=_text(MAX_NOTE))
    by: str | None = None
    id: str | None = attrs.field(default=None, validator=attrs.validators.optional(_record_id))


@attrs.frozen(kw_only=True)
class SwapRequest:
    """Two people exchange two shifts: ``second.user`` takes ``first``'s shift and ``first.user`` takes
    ``second``'s (``layer``: the layer both are held on, when the schedule has several)."""

    first: ShiftClaim
    second: ShiftClaim
    layer: str | None = None
    note: str = attrs.field(default="", validator=_text(MAX_NOTE))
    by: str | None = None


@attrs.frozen(kw_only=True)
class NoteRequest:
    """A note to add to an incident; ``by`` is who writes it (default: the token's name)."""

    text: str = attrs.field(validator=_text(MAX_NOTE))
    by: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.text:
            raise FieldError("text", "must not be empty")


@attrs.frozen(kw_only=True)
class ReassignRequest:
    """Restart the incident's escalation on someone else: ``user`` (a person the config knows, paged now) or
    ``policy`` (a configured policy) — exactly one; ``by`` is who reassigns (default: the token's name)."""

    user: str | None = None
    policy: str | None = None
    by: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.user is None) == (self.policy is None):
            raise FieldError("user", "give exactly one of user and policy")


@attrs.frozen(kw_only=True)
class MaintenanceRequest:
    """A maintenance window to make: from ``start`` (default: now) until ``end`` or for ``duration``
    (``<number>(s|m|h|d)``: exactly one of the two); incidents ``match`` takes (none given: every one) page
    nobody meanwhile; when it ends, those still open escalate or are dropped (``on_end``); ``id`` names it
    (default: a new one)."""

    start: datetime | None = None
    end: datetime | None = None
    duration: str | None = attrs.field(default=None, validator=attrs.validators.optional(_duration))
    match: MaintenanceMatch = attrs.field(factory=MaintenanceMatch)
    on_end: OnEnd = attrs.field(default=OnEnd.ESCALATE, converter=OnEnd)
    reason: str = attrs.field(default="", validator=_text(MAX_NOTE))
    by: str | None = None
    id: str | None = attrs.field(default=None, validator=attrs.validators.optional(_record_id))

    def __attrs_post_init__(self) -> None:
        if (self.end is None) == (self.duration is None):
            raise FieldError("end", "give exactly one of end and duration")


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
    """An incident, how many repeats were folded into it, and its escalation (None when none started).
    ``suppressed`` is ``maintenance`` when a maintenance window held it (``suppression`` says which, until
    when, and what then)."""

    incident: Incident
    duplicates: int
    escalation: EscalationState | None
    suppressed: str | None = None
    suppression: Suppression | None = None


@attrs.frozen(kw_only=True)
class IncidentPage:
    """One page of incidents, newest first; ``next_cursor`` asks for the next page (None: this is the last).
    ``next_offset`` does too, for a list without filters."""

    incidents: tuple[Incident, ...]
    offset: int
    limit: int
    next_offset: int | None
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class NoteList:
    """The notes on an incident, oldest first."""

    incident_id: str
    notes: tuple[IncidentNote, ...]


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One thing that happened to an incident: from its escalations' journals (``source: journal``), a page's
    delivery attempts (``delivery``), its notes (``note``), or the incident itself (``incident``: raised, its
    state changed, held by a maintenance window). Fields that do not apply are null."""

    at: datetime
    source: str
    kind: str
    by: str | None = None
    detail: str = ""
    escalation_id: str | None = None
    level: int | None = None
    pass_number: int | None = None
    recipient: str | None = None
    channel: str | None = None


@attrs.frozen(kw_only=True)
class Timeline:
    """Everything that happened to an incident, in time order (ties in the order they were recorded)."""

    incident_id: str
    entries: tuple[TimelineEntry, ...]


@attrs.frozen(kw_only=True)
class HeartbeatStatus:
    """A heartbeat monitor: ``ok`` while pinged in time (or not yet due), ``missed`` once its deadline passed
    (``incident_id`` is the incident that opened); a ping answers with it, ``resolved`` naming the incident of
    the miss it ended."""

    name: str
    interval: str
    status: str
    armed_at: datetime | None
    last_ping: datetime | None
    due_at: datetime | None
    misses: int
    incident_id: str | None
    resolved: str | None = None


@attrs.frozen(kw_only=True)
class HeartbeatList:
    """Every configured heartbeat, by name."""

    heartbeats: tuple[HeartbeatStatus, ...]


@attrs.frozen(kw_only=True)
class MaintenanceList:
    """The maintenance windows open now or to come: those made through the API, and the current or next
    occurrence of each config window (``source: config``; its id is ``NAME@START``), by start."""

    windows: tuple[MaintenanceWindow, ...]


@attrs.frozen(kw_only=True)
class MaintenanceEnded:
    """A window ended early: as stored now, and the incidents whose held escalations began."""

    window: MaintenanceWindow
    released: tuple[str, ...]


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
class OverrideEntry:
    """One override of a schedule: from the config file (``source: config``, no id: edit the file to change
    it) or made at run time (``source: api``)."""

    id: str | None
    source: str
    user: str
    start: datetime
    end: datetime
    layer: str | None
    note: str
    created_by: str | None
    created_at: datetime | None
    swap_id: str | None


@attrs.frozen(kw_only=True)
class OverrideList:
    """The overrides of ``schedule`` in force at some time from ``start`` on (until ``end``), the config's
    first, then those made at run time in the order they were made (a later one wins where two overlap)."""

    schedule: str
    start: datetime
    end: datetime | None
    overrides: tuple[OverrideEntry, ...]


@attrs.frozen(kw_only=True)
class OverrideRemoved:
    """An override made at run time, removed: ``deleted`` when it had not started; else it was running and now
    ends at ``override.end`` (now), its past part kept."""

    override: ScheduleOverride
    deleted: bool


@attrs.frozen(kw_only=True)
class SwapAnswer:
    """The two overrides a swap was stored as: who takes the first shift, and who takes the second."""

    schedule: str
    swap_id: str
    overrides: tuple[ScheduleOverride, ...]


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
    """The service is up: its version, store, open escalations, how far the timer is behind (seconds), its
    part in claiming due work, and the config in force. ``status`` is ``ok``, or ``store failing`` (answered
    with 503) with ``store_error`` saying what is wrong."""

    status: str
    version: str
    storage: str
    open_escalations: int
    monitor_lag_seconds: float
    instance_id: str  # the owner of the due work this instance claims, among instances sharing the store
    claim_every_seconds: float  # how often it claims due work no live instance holds
    lease_seconds: float  # how long claimed due work stays its own
    # Whether it hears when other instances' work comes due (PostgreSQL LISTEN/NOTIFY): None on a store that
    # announces nothing (the poll every claim_every_seconds alone), False while the listening connection is down.
    hears_announcements: bool | None
    config_hash: str  # SHA-256 of the config file in force (``sha256sum`` of the file prints the same)
    config_loaded_at: datetime  # when it was loaded (at start-up, or by the last reload)
    store_error: str | None = None


@attrs.frozen(kw_only=True)
class ConfigReloaded:
    """The config file was read again and is in force: its path, SHA-256 and when it was taken; ``changed``
    says whether its hash differs from the config it replaced."""

    source: str
    config_hash: str
    loaded_at: datetime
    changed: bool


def response_converter(registry: Registry) -> cattrs.Converter:
    """The config converter, writing every field (defaults too), named tuples as objects, and every notification
    as the API shows one: without its copy of the incident (``null``: it is the incident of the escalation, or
    named by ``incident_id``) and its recipient without contact details (``null``: they may hold a webhook's
    secret headers)."""
    converter = make_converter(registry)
    converter.omit_if_default = False  # an answer always has every field its schema requires
    converter.register_unstructure_hook(OnCallEntry, OnCallEntry.as_dict)
    converter.register_unstructure_hook(Shift, Shift.as_dict)
    converter.register_unstructure_hook(Gap, Gap.as_dict)
    recipient = make_dict_unstructure_fn(Recipient, converter, contact=override(omit=True))

    def public_recipient(value: Recipient) -> dict[str, Any]:
        document = recipient(value)
        document["contact"] = None
        return document

    converter.register_unstructure_hook(Recipient, public_recipient)  # before the notification's hook uses it
    notification = make_dict_unstructure_fn(Notification, converter, incident=override(omit=True))

    def public_notification(value: Notification) -> dict[str, Any]:
        document = notification(value)
        document["incident"] = None
        return document

    converter.register_unstructure_hook(Notification, public_notification)
    converter.register_unstructure_hook(
        EscalationPolicy, _written_once(converter.get_unstructure_hook(EscalationPolicy))
    )
    return converter


def _written_once(unstructure: Any) -> Any:
    """``unstructure`` for policy snapshots, remembering the last few by identity: every escalation of a policy
    version holds the same snapshot object, and each answer about one carries it whole (the written document is
    only ever encoded, never changed)."""
    recent: dict[int, tuple[EscalationPolicy, Any]] = {}

    def write(policy: EscalationPolicy) -> Any:
        held = recent.get(id(policy))
        if held is not None and held[0] is policy:
            return held[1]
        document = unstructure(policy)
        if len(recent) >= _POLICIES_REMEMBERED:
            recent.pop(next(iter(recent)))
        recent[id(policy)] = (policy, document)
        return document

    return write


_POLICIES_REMEMBERED = 64
