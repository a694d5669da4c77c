"""Plain data: incidents, policies, schedules, rules and their parts.

Everything here is an attrs frozen, slotted, keyword-only class or an enum. Nothing in this module imports
any other part of tocsin. Plugin-provided variants (targets, actions, rotations, contacts, integration sources,
playbooks) are attrs classes defined by their plugins; fields that hold them are typed with the marker protocols below.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

from tocsin.errors import FieldError
from tocsin.validators import at_least, between, non_empty

__all__ = [
    "ALL_URGENCIES",
    "AckMode",
    "ActionLink",
    "ActionSpec",
    "Change",
    "ContactSpec",
    "Delivery",
    "DeliveryResult",
    "DeliveryStatus",
    "EscalationEvent",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStatus",
    "ExhaustedAction",
    "FieldError",
    "FoldedPage",
    "Incident",
    "IncidentState",
    "IncidentType",
    "LevelCondition",
    "MaintenanceMatch",
    "Notification",
    "OnCallSchedule",
    "OnEnd",
    "OnExhausted",
    "Override",
    "PlaybookRun",
    "PlaybookSpec",
    "Recipient",
    "RepeatConfig",
    "Resolution",
    "RotationSpec",
    "RoundRobin",
    "RoutingRule",
    "RuleCondition",
    "ScheduleLayer",
    "Severity",
    "SourceSpec",
    "TargetSpec",
    "TimeRestrictions",
    "Urgency",
    "User",
    "urgencies_field",
    "utcnow",
]


def utcnow() -> datetime:
    """The current instant as an aware UTC datetime."""
    return datetime.now(UTC)


class Severity(enum.StrEnum):
    """Incident severity, P0 (most severe) to P4."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """0 for P0 … 4 for P4; the default priority score."""
        return int(self.value[1])


class IncidentType(enum.StrEnum):
    """What kind of incident this is."""

    INFRASTRUCTURE = "Infrastructure"
    APPLICATION = "Application"
    SECURITY = "Security"
    DATA = "Data"
    PERFORMANCE = "Performance"
    AVAILABILITY = "Availability"
    COMPLIANCE = "Compliance"
    UNKNOWN = "Unknown"


class IncidentState(enum.StrEnum):
    """Where an incident is in its life."""

    DETECTED = "Detected"
    TRIAGED = "Triaged"
    INVESTIGATING = "Investigating"
    REMEDIATING = "Remediating"
    RESOLVED = "Resolved"
    CLOSED = "Closed"

    @property
    def is_open(self) -> bool:
        """False once the incident is resolved or closed."""
        return self not in (IncidentState.RESOLVED, IncidentState.CLOSED)


class EscalationStatus(enum.StrEnum):
    """Status of one escalation.

    ``completed`` means every level (and every repeat) fired and nobody acknowledged: the escalation is
    *exhausted*, and stays open (it can still be acknowledged, snoozed, escalated, resolved or cancelled)
    until someone answers it. ``resolved`` and ``cancelled`` end it.
    """

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Resolution(enum.StrEnum):
    """How a schedule combines its layers."""

    ALL = "all"  # every active layer contributes its user
    PRECEDENCE = "precedence"  # the last active layer in the list wins


class Urgency(enum.StrEnum):
    """How urgently a page should reach someone: a target's ``urgency``; contacts say which they take."""

    HIGH = "high"
    LOW = "low"


ALL_URGENCIES: tuple[Urgency, ...] = (Urgency.HIGH, Urgency.LOW)


class AckMode(enum.StrEnum):
    """Who must acknowledge a level: ``first`` (anyone paged) or ``all`` (everyone paged at the level)."""

    FIRST = "first"
    ALL = "all"


# --- markers for plugin-provided variants -------------------------------------------------------------


@runtime_checkable
class TargetSpec(Protocol):
    """An escalation target (user, team, schedule, webhook, …): an attrs class with a ``type`` tag."""

    type: ClassVar[str]


@runtime_checkable
class ActionSpec(Protocol):
    """A routing action (notify, assign, …): an attrs class with a ``type`` tag."""

    type: ClassVar[str]


@runtime_checkable
class RotationSpec(Protocol):
    """A rotation strategy's settings (daily, weekly, custom, …): an attrs class with a ``type`` tag."""

    type: ClassVar[str]


@runtime_checkable
class ContactSpec(Protocol):
    """How to reach a person through one notification channel: an attrs class with a ``type`` tag."""

    type: ClassVar[str]


@runtime_checkable
class SourceSpec(Protocol):
    """An integration source's settings (alertmanager, grafana, generic, …): an attrs class with a ``type`` tag."""

    type: ClassVar[str]


@runtime_checkable
class PlaybookSpec(Protocol):
    """One playbook's settings (webhook, …): an attrs class with a ``type`` tag, read from the config's
    ``playbooks`` section."""

    type: ClassVar[str]


# --- incidents ----------------------------------------------------------------------------------------


def _new_id() -> str:
    return str(uuid.uuid4())


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise FieldError("created_at", f"needs a time zone offset, got {value.isoformat()}")
    return value


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Incident:
    """One incident. Routing actions produce new versions with ``attrs.evolve``; nothing mutates one."""

    id: str = attrs.field(factory=_new_id)
    source: str = ""
    title: str
    description: str = ""
    severity: Severity = attrs.field(converter=Severity)
    state: IncidentState = attrs.field(default=IncidentState.DETECTED, converter=IncidentState)
    incident_type: IncidentType = attrs.field(default=IncidentType.UNKNOWN, converter=IncidentType)
    priority_score: int = attrs.field()
    assignees: tuple[str, ...] = attrs.field(default=(), converter=_names)
    labels: Mapping[str, str] = attrs.field(factory=dict)
    payload: Any = None
    dedup_key: str | None = None
    created_at: datetime = attrs.field(factory=utcnow, converter=_aware)

    @priority_score.default
    def _priority_from_severity(self) -> int:
        return self.severity.rank

    @classmethod
    def new(
        cls,
        source: str,
        title: str,
        description: str,
        severity: Severity | str,
        incident_type: IncidentType | str = IncidentType.UNKNOWN,
        **more: Any,
    ) -> Incident:
        """Create an incident the way the guide's ``Incident::new`` does."""
        return cls(
            source=source,
            title=title,
            description=description,
            severity=severity,
            incident_type=incident_type,
            **more,
        )


# --- people -------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class User:
    """A person who can be paged; ``contacts`` say how (none: the log channel)."""

    name: str | None = None
    contacts: tuple[ContactSpec, ...] = ()


def _urgency_tuple(value: Any) -> tuple[Urgency, ...]:
    if isinstance(value, str):
        raise FieldError("urgencies", f"expected a list such as [high, low], got {value!r}")
    return tuple(Urgency(item) for item in value)


def _some_urgency(instance: object, attribute: attrs.Attribute[Any], value: tuple[Urgency, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "must name at least one urgency (high, low); leave it out to take both")


def urgencies_field() -> Any:
    """The ``urgencies`` field of a contact class: which page urgencies the contact takes (default: both).

    ``urgencies: tuple[tocsin.Urgency, ...] = tocsin.urgencies_field()`` in a channel plugin's contact
    class lets a user say ``{type: email, urgencies: [low]}``. A contact class without the field takes
    every urgency.
    """
    return attrs.field(default=ALL_URGENCIES, converter=_urgency_tuple, validator=_some_urgency)


# --- schedules ----------------------------------------------------------------------------------------


def _days(instance: object, attribute: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "must name at least one day (0=Sunday … 6=Saturday)")
    for day in value:
        if not 0 <= day <= 6:
            raise FieldError(attribute.name, f"days are 0 (Sunday) to 6 (Saturday), got {day}")


@attrs.frozen(kw_only=True)
class TimeRestrictions:
    """A weekly window in which a layer is active.

    ``days_of_week`` use 0=Sunday … 6=Saturday. ``start == end`` means the whole day. A window whose start is
    after its end runs overnight and belongs to the day it starts.
    """

    days_of_week: tuple[int, ...] = attrs.field(default=(0, 1, 2, 3, 4, 5, 6), validator=_days)
    start_hour: int = attrs.field(default=0, validator=between(0, 23))
    end_hour: int = attrs.field(default=0, validator=between(0, 24))
    start_minute: int = attrs.field(default=0, validator=between(0, 59))
    end_minute: int = attrs.field(default=0, validator=between(0, 59))

    def __attrs_post_init__(self) -> None:
        if self.end_hour == 24 and self.end_minute:
            raise FieldError("end_minute", "must be 0 when end_hour is 24")


@attrs.frozen(kw_only=True)
class ScheduleLayer:
    """One rotation of users. Shift k (counted from ``start``) is held by ``users[k % len(users)]``, unless the
    rotation chooses who holds each shift itself (``follow_the_sun``): the layer then has no ``users``."""

    name: str
    users: tuple[str, ...] = ()
    rotation: RotationSpec
    start: datetime | None = None  # local wall-clock time in the schedule's timezone
    restrictions: tuple[TimeRestrictions, ...] = ()

    @property
    def people(self) -> tuple[str, ...]:
        """Everyone this layer may put on call: its ``users``, and the people a rotation that chooses who draws
        from (what its settings' ``chooses_from()`` returns, when it has one)."""
        chooses_from = getattr(self.rotation, "chooses_from", None)
        if not callable(chooses_from):
            return self.users
        return tuple(dict.fromkeys((*self.users, *chooses_from())))


@attrs.frozen(kw_only=True)
class Override:
    """``user`` replaces the final on-call (or one layer's user) from ``start`` until ``end``."""

    user: str
    start: datetime  # naive: local time in the schedule's timezone; aware: that instant
    end: datetime
    layer: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise FieldError("end", "start and end must both have a UTC offset or both have none")
        if self.end <= self.start:
            raise FieldError("end", f"must be after start ({self.start.isoformat()})")


@attrs.frozen(kw_only=True)
class OnCallSchedule:
    """Layers of rotations, combined by ``resolution``, with overrides and an optional fallback target."""

    id: str
    name: str = ""
    timezone: str = "UTC"
    resolution: Resolution = Resolution.ALL
    layers: tuple[ScheduleLayer, ...] = attrs.field(validator=non_empty)
    overrides: tuple[Override, ...] = ()
    fallback: TargetSpec | None = None


# --- changes made at run time --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Change:
    """Something changed while the pager runs, by a person or by the pager itself: what the audit log records.

    ``kind`` says what (``override.created``, ``override.removed``, ``swap.created``, ``config.reloaded``,
    ``incident.note_added``, ``incident.reassigned``, ``incident.unacknowledged``, ``heartbeat.missed``,
    ``heartbeat.recovered``, ``maintenance.created``, ``maintenance.ended``, ``incident.suppressed``);
    ``subject`` the schedule, incident, heartbeat, window or config file it is about; ``detail`` the rest.
    """

    kind: str
    subject: str
    at: datetime
    by: str | None = None
    detail: Mapping[str, Any] = attrs.field(factory=dict)


# --- maintenance --------------------------------------------------------------------------------------


class OnEnd(enum.StrEnum):
    """What happens, when a maintenance window ends, to the incidents it held that are still open: they start
    escalating (``escalate``), or they never page (``drop``)."""

    ESCALATE = "escalate"
    DROP = "drop"


def _label_map(instance: object, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    for key, text in value.items():
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise FieldError(attribute.name, f"labels map non-empty strings to strings, got {key!r}: {text!r}")


@attrs.frozen(kw_only=True)
class MaintenanceMatch:
    """Which incidents a maintenance window holds: every one given must match (none given: every incident).

    ``labels``: each key has that value on the incident; ``source``: the incident's ``source``;
    ``integration``: the inbound integration (``POST /v1/integrations/NAME``) the incident came through.
    """

    labels: Mapping[str, str] = attrs.field(factory=dict, validator=_label_map)
    source: str | None = None
    integration: str | None = None

    def matches(self, incident: Incident, integration: str | None = None) -> bool:
        """Whether ``incident`` (which came through ``integration``, if any) is one this matcher holds."""
        if self.source is not None and incident.source != self.source:
            return False
        if self.integration is not None and integration != self.integration:
            return False
        labels = incident.labels
        return all(labels.get(key) == value for key, value in self.labels.items())


# --- escalation policies ------------------------------------------------------------------------------


def _window_name(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise FieldError(attribute.name, f"needs the name of a working_hours window, got {value!r}")


@attrs.frozen(kw_only=True)
class LevelCondition:
    """When a level runs (``when:``): every one of ``conditions`` holds for the incident (the routing rule
    condition schema and operators), and the level's due time is inside the working-hours window ``during``
    and outside the window ``outside``. A level whose condition is false at its due time is skipped."""

    conditions: tuple[RuleCondition, ...] = ()
    during: str | None = attrs.field(default=None, validator=_window_name)
    outside: str | None = attrs.field(default=None, validator=_window_name)

    def __attrs_post_init__(self) -> None:
        if not self.conditions and self.during is None and self.outside is None:
            raise FieldError("conditions", "'when' needs conditions, during or outside (or leave 'when' out)")


@attrs.frozen(kw_only=True)
class RoundRobin:
    """Page a level's recipients one at a time, moving on after ``rotate_after_minutes`` without an ack."""

    rotate_after_minutes: int = attrs.field(validator=at_least(1))


@attrs.frozen(kw_only=True)
class EscalationLevel:
    """One step of a policy: ``targets`` are paged ``delay_minutes`` after the previous level was due.

    ``when`` makes the level conditional (skipped when false at its due time); ``delay_counts_during`` counts
    the delay only inside a working-hours window; ``round_robin`` pages the recipients one at a time;
    ``ack_mode: all`` needs every recipient paged at the level to acknowledge.
    """

    level: int | None = None  # optional; when given it must equal the level's position
    delay_minutes: int = attrs.field(default=0, validator=at_least(0))
    targets: tuple[TargetSpec, ...] = attrs.field(validator=non_empty)
    stop_on_ack: bool = True
    when: LevelCondition | None = None
    delay_counts_during: str | None = attrs.field(default=None, validator=_window_name)
    round_robin: RoundRobin | None = None
    ack_mode: AckMode = attrs.field(default=AckMode.FIRST, converter=AckMode)

    def __attrs_post_init__(self) -> None:
        if self.round_robin is not None and self.ack_mode is AckMode.ALL:
            raise FieldError(
                "ack_mode",
                "'all' cannot be combined with round_robin, which pages one recipient at a time; use one of them",
            )


@attrs.frozen(kw_only=True)
class RepeatConfig:
    """Run the levels again ``max_repeats`` times, ``interval_minutes`` after the last level."""

    max_repeats: int = attrs.field(validator=at_least(0))
    interval_minutes: int = attrs.field(validator=at_least(0))


def _levels(instance: object, attribute: attrs.Attribute[Any], value: tuple[EscalationLevel, ...]) -> None:
    if not value:
        raise FieldError("levels", "a policy needs at least one level")
    for index, level in enumerate(value):
        if level.level is not None and level.level != index:
            raise FieldError(
                "levels",
                f"level numbers must run 0..{len(value) - 1} in order; levels[{index}] says {level.level}",
            )


class ExhaustedAction(enum.StrEnum):
    """What a policy does once every level fired and nobody acknowledged (``on_exhausted``)."""

    STAY = "stay"  # page nobody more; the escalation waits, open, for an answer
    REPEAT_LAST = "repeat_last"  # page the last level again every ``interval_minutes``
    PAGE = "page"  # page the ``page`` targets once, ``after_minutes`` after the last level


@attrs.frozen(kw_only=True)
class OnExhausted:
    """A policy's ``on_exhausted``: what happens after the last level of the last pass fired unanswered.

    Written ``on_exhausted: stay`` (the default), ``on_exhausted: repeat_last`` (every ``interval_minutes``,
    by default the policy's ``repeat.interval_minutes``) or ``on_exhausted: {page: <target or targets>,
    after_minutes: 5}``; the long form ``{action: repeat_last, interval_minutes: 30}`` works too.
    """

    action: ExhaustedAction = attrs.field(default=ExhaustedAction.STAY, converter=ExhaustedAction)
    interval_minutes: int | None = attrs.field(default=None, validator=at_least(1))
    after_minutes: int = attrs.field(default=0, validator=at_least(0))
    page: tuple[TargetSpec, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.action is ExhaustedAction.PAGE and not self.page:
            raise FieldError("page", "on_exhausted 'page' needs the target(s) to page")
        if self.action is not ExhaustedAction.PAGE and self.page:
            raise FieldError("page", f"only on_exhausted 'page' pages targets (this one is {self.action.value!r})")
        if self.action is not ExhaustedAction.REPEAT_LAST and self.interval_minutes is not None:
            raise FieldError("interval_minutes", "only on_exhausted 'repeat_last' repeats")


@attrs.frozen(kw_only=True)
class EscalationPolicy:
    """Who is paged, in which order, and how often, for incidents of the severities it filters."""

    id: str
    name: str = ""
    description: str = ""
    enabled: bool = True
    priority: int = 0
    severity_filter: tuple[Severity, ...] = ()
    levels: tuple[EscalationLevel, ...] = attrs.field(validator=_levels)
    repeat: RepeatConfig | None = None
    ack_timeout_minutes: int | None = attrs.field(default=None, validator=at_least(0))
    on_exhausted: OnExhausted = attrs.field(factory=OnExhausted)

    def __attrs_post_init__(self) -> None:
        if self.exhausted_interval is None and self.on_exhausted.action is ExhaustedAction.REPEAT_LAST:
            raise FieldError(
                "on_exhausted.interval_minutes",
                "repeat_last needs interval_minutes (the policy has no repeat.interval_minutes to take it from): "
                "on_exhausted: {action: repeat_last, interval_minutes: 30}",
            )

    @property
    def exhausted_interval(self) -> int | None:
        """``repeat_last``: minutes between the pages of the last level once the policy is exhausted."""
        rule = self.on_exhausted
        if rule.action is not ExhaustedAction.REPEAT_LAST:
            return None
        if rule.interval_minutes is not None:
            return rule.interval_minutes
        if self.repeat is not None and self.repeat.interval_minutes >= 1:
            return self.repeat.interval_minutes
        return None

    def applies_to(self, severity: Severity) -> bool:
        """True when the policy is enabled and its filter is empty or names ``severity``."""
        return self.enabled and (not self.severity_filter or severity in self.severity_filter)


# --- routing rules ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuleCondition:
    """``field operator value``: e.g. ``severity in [P0, P1]``. ``exists``/``not_exists`` take no value."""

    field: str
    operator: str
    value: Any = None


@attrs.frozen(kw_only=True)
class RoutingRule:
    """Conditions (ANDed) and the actions to apply when they all hold. Higher ``priority`` runs first."""

    name: str
    id: str | None = None
    priority: int = 0
    enabled: bool = True
    stop: bool = False
    conditions: tuple[RuleCondition, ...] = ()
    actions: tuple[ActionSpec, ...] = ()


# --- escalation state and notifications (what observers and stores see) -------------------------------


@attrs.frozen(kw_only=True)
class Recipient:
    """Someone (or something) a level pages, and through which channel."""

    address: str  # an e-mail address, a URL, a channel name
    channel: str  # the name of a registered notification channel
    target: str  # the type tag of the target that produced it
    contact: ContactSpec | None = None  # the contact to deliver through, when the channel needs one
    urgency: Urgency = attrs.field(default=Urgency.HIGH, converter=Urgency)  # the paging target's urgency
    # Which of the person's contacts on ``channel`` this is (0: the first): two webhooks or two e-mail
    # contacts of one person are two recipients, each paged.
    contact_number: int = 0


@attrs.frozen(kw_only=True)
class ActionLink:
    """A link in a page that acts on its escalation from the page itself: the ``action`` it takes
    (``acknowledge``, ``resolve``, ``snooze``, ``escalate``), the ``label`` a button or a line shows, and the
    ``url`` to open (a confirmation page: opening it changes nothing; confirming it does). The link whose action
    is ``open`` acts on nothing: it opens the incident in the web console, signing its recipient in."""

    OPEN: ClassVar[str] = "open"

    action: str
    label: str
    url: str

    @property
    def opens(self) -> bool:
        """True for the link that opens the incident in the web console (it acts on nothing)."""
        return self.action == ActionLink.OPEN


@attrs.frozen(kw_only=True)
class FoldedPage:
    """A page a contact's rate limit held back, as the summary message that carries it lists it."""

    key: str
    incident_id: str
    escalation_id: str
    title: str
    severity: Severity | None = None
    level: int = -1
    pass_number: int = 0
    due_at: datetime
    links: tuple[ActionLink, ...] = ()  # set when the summary is handed to its channel


@attrs.frozen(kw_only=True)
class Notification:
    """One page to one recipient. ``key`` is stable: the same page never goes out twice.

    ``key`` is built from the escalation, the re-trigger round, the pass, the level and the recipient, so it
    is the same on every instance and after a restart. ``level`` is -1 for a routing ``notify`` message,
    which belongs to no level.
    """

    key: str
    incident_id: str
    policy_id: str
    pass_number: int
    level: int
    recipient: Recipient
    due_at: datetime
    late: bool = False
    incident: Incident | None = None
    escalation_id: str = ""
    round: int = 0  # how many times an acknowledgement timed out (or a snooze ran out) before this page
    fired_at: datetime | None = None  # when the level fired (``due_at`` unless it fired late)
    paged: tuple[str, ...] = ()  # everyone the level paged when it fired (this recipient among them)
    # The action links of this page, made when it is handed to its channel (never stored: they are signed
    # and expire); empty without ``server.public_url``, and for a page outside an escalation.
    links: tuple[ActionLink, ...] = ()
    # A summary message: the pages the recipient's rate limit held back (empty for a page of its own).
    folded: tuple[FoldedPage, ...] = ()

    @property
    def urgency(self) -> Urgency:
        """The page's urgency: that of the target which paged the recipient (``high`` unless it says)."""
        return self.recipient.urgency


@attrs.frozen(kw_only=True)
class PlaybookRun:
    """One run of a playbook for an incident, as its runner is handed it.

    ``key`` is stable (``<incident id>/playbook/<playbook id>``): the same on every retry of the run and after a
    restart, so an endpoint can drop duplicates by it.
    """

    playbook_id: str
    key: str
    incident: Incident | None
    incident_id: str
    requested_at: datetime  # when the routing rule asked for the run


class DeliveryStatus(enum.StrEnum):
    """Where a notification is on its way out. Only ``sent`` means a channel confirmed delivery."""

    PENDING = "pending"  # written to the outbox, not yet handed to a channel
    SENDING = "sending"  # claimed by one sender (for a lease); never handed to another while the lease runs
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; another is scheduled (``Delivery.next_attempt_at``)
    DEAD = "dead"  # given up: out of attempts, or a failure no retry can fix (a dead letter)
    FOLDED = "folded"  # held back by the contact's rate limit: it goes out in the contact's next summary message


@attrs.frozen(kw_only=True)
class DeliveryResult:
    """What actually happened to a notification: ``ok`` only when the channel confirmed delivery."""

    key: str
    ok: bool
    detail: str = ""
    at: datetime = attrs.field(factory=utcnow)
    attempts: int = 1  # which attempt this was (1 for the first)
    retryable: bool = True  # a failure another attempt may fix (False: permanent, e.g. a 4xx answer)
    retry_after: float | None = None  # seconds the receiver asked to wait before the next attempt
    gone: bool = False  # the endpoint said it wants no more messages (HTTP 410): it is disabled


@attrs.frozen(kw_only=True)
class Delivery:
    """A notification in the outbox and what happened to it (``result``: the latest answer, None before one).

    ``attempts`` counts the attempts started so far; ``next_attempt_at`` is when a failed one is tried again.
    """

    notification: Notification
    status: DeliveryStatus
    result: DeliveryResult | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None


@attrs.frozen(kw_only=True)
class EscalationEvent:
    """One entry of an escalation's journal: a lifecycle step or a problem met while a level fired.

    ``kind`` is one of started, level_fired, announced (routing notify messages sent), acknowledged,
    ack_timeout, escalated, resolved, cancelled, completed (every level fired unanswered: the escalation is
    exhausted and stays open), exhausted_page (``on_exhausted`` paged again), unresolved (a schedule had nobody
    on call),
    target_failed (a target could not be expanded), missed (an occurrence replaced after downtime) and
    rate_limited (a page the recipient's rate limit folded into a summary message); and
    for smart escalation: level_skipped (a level's ``when`` was false at its due time), rotated (a
    round-robin level moved on to its next recipient), ack_received (one acknowledgement of several a level
    with ``ack_mode: all`` needs), snoozed and snooze_ended (the snooze ran out and re-triggered).
    """

    at: datetime
    kind: str
    pass_number: int | None = None
    level: int | None = None
    by: str | None = None
    detail: str = ""
    late: bool = False


@attrs.frozen(kw_only=True)
class EscalationState:
    """A read-only picture of one escalation at a moment.

    ``current_level`` is the last level that fired in the current pass (-1 before the first one fires; a
    level skipped by its ``when`` counts as having come due); ``next_level`` and ``next_due_at`` say what
    fires next (None when nothing is scheduled). ``exhausted`` is true while every level has fired and nobody
    has answered (status ``completed``); ``open`` until it is resolved or cancelled.
    """

    incident_id: str
    policy: EscalationPolicy  # the snapshot taken when the escalation started
    status: EscalationStatus
    current_level: int
    pass_number: int
    started_at: datetime
    next_due_at: datetime | None = None
    next_level: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ended_at: datetime | None = None
    version: int = 0
    escalation_id: str = ""
    round: int = 0  # how many times an acknowledgement timed out (or a snooze ran out) and re-triggered
    deliveries: tuple[Delivery, ...] = ()
    events: tuple[EscalationEvent, ...] = ()
    snoozed_until: datetime | None = None  # an acknowledged escalation re-triggers then
    acks: tuple[str, ...] = ()  # who acknowledged at the current level so far (``ack_mode: all``)
    awaiting_acks: tuple[str, ...] = ()  # who paged at the current level must still acknowledge
    exhausted: bool = False  # every level fired and nobody answered (status completed): still open
    open: bool = True  # not resolved or cancelled: it can still be acknowledged, escalated, resolved
