"""Plain data: incidents, policies, schedules, rules and their parts.

Everything here is an attrs frozen, slotted, keyword-only class or an enum. Nothing in this module imports
any other part of tocsin. Plugin-provided variants (targets, actions, rotations, contacts) are attrs classes
defined by their plugins; fields that hold them are typed with the marker protocols below.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

__all__ = [
    "ActionSpec",
    "ContactSpec",
    "Delivery",
    "DeliveryResult",
    "DeliveryStatus",
    "EscalationEvent",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStatus",
    "FieldError",
    "Incident",
    "IncidentState",
    "IncidentType",
    "Notification",
    "OnCallSchedule",
    "Override",
    "Recipient",
    "RepeatConfig",
    "Resolution",
    "RotationSpec",
    "RoutingRule",
    "RuleCondition",
    "ScheduleLayer",
    "Severity",
    "TargetSpec",
    "TimeRestrictions",
    "User",
    "utcnow",
]


class FieldError(ValueError):
    """A value that is the right type but wrong: names the field so errors can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    """Status of one escalation."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Resolution(enum.StrEnum):
    """How a schedule combines its layers."""

    ALL = "all"  # every active layer contributes its user
    PRECEDENCE = "precedence"  # the last active layer in the list wins


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


# --- incidents ----------------------------------------------------------------------------------------


def _new_id() -> str:
    return str(uuid.uuid4())


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise FieldError("created_at", f"needs a time zone offset, got {value.isoformat()}")
    return value


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
    assignees: tuple[str, ...] = attrs.field(default=(), converter=tuple)
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


# --- schedules ----------------------------------------------------------------------------------------


def _in_range(low: int, high: int):
    def check(instance: object, attribute: attrs.Attribute, value: int) -> None:
        if not low <= value <= high:
            raise FieldError(attribute.name, f"must be between {low} and {high}, got {value}")

    return check


def _non_negative(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 0:
        raise FieldError(attribute.name, f"must be 0 or more, got {value}")


def _not_empty(instance: object, attribute: attrs.Attribute, value: tuple) -> None:
    if not value:
        raise FieldError(attribute.name, "must not be empty")


def _days(instance: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
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
    start_hour: int = attrs.field(default=0, validator=_in_range(0, 23))
    end_hour: int = attrs.field(default=0, validator=_in_range(0, 24))
    start_minute: int = attrs.field(default=0, validator=_in_range(0, 59))
    end_minute: int = attrs.field(default=0, validator=_in_range(0, 59))

    def __attrs_post_init__(self) -> None:
        if self.end_hour == 24 and self.end_minute:
            raise FieldError("end_minute", "must be 0 when end_hour is 24")


@attrs.frozen(kw_only=True)
class ScheduleLayer:
    """One rotation of users. Shift k (counted from ``start``) is held by ``users[k % len(users)]``."""

    name: str
    users: tuple[str, ...] = attrs.field(validator=_not_empty)
    rotation: RotationSpec
    start: datetime | None = None  # local wall-clock time in the schedule's timezone
    restrictions: tuple[TimeRestrictions, ...] = ()


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
    layers: tuple[ScheduleLayer, ...] = attrs.field(validator=_not_empty)
    overrides: tuple[Override, ...] = ()
    fallback: TargetSpec | None = None


# --- escalation policies ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EscalationLevel:
    """One step of a policy: ``targets`` are paged ``delay_minutes`` after the previous level was due."""

    level: int | None = None  # optional; when given it must equal the level's position
    delay_minutes: int = attrs.field(default=0, validator=_non_negative)
    targets: tuple[TargetSpec, ...] = attrs.field(validator=_not_empty)
    stop_on_ack: bool = True


@attrs.frozen(kw_only=True)
class RepeatConfig:
    """Run the levels again ``max_repeats`` times, ``interval_minutes`` after the last level."""

    max_repeats: int = attrs.field(validator=_non_negative)
    interval_minutes: int = attrs.field(validator=_non_negative)


def _levels(instance: object, attribute: attrs.Attribute, value: tuple[EscalationLevel, ...]) -> None:
    if not value:
        raise FieldError("levels", "a policy needs at least one level")
    for index, level in enumerate(value):
        if level.level is not None and level.level != index:
            raise FieldError(
                "levels",
                f"level numbers must run 0..{len(value) - 1} in order; levels[{index}] says {level.level}",
            )


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
    ack_timeout_minutes: int | None = attrs.field(default=None, validator=_non_negative)

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
    round: int = 0  # how many times an acknowledgement timed out before this page
    fired_at: datetime | None = None  # when the level fired (``due_at`` unless it fired late)


class DeliveryStatus(enum.StrEnum):
    """Where a notification is on its way out. Only ``sent`` means a channel confirmed delivery."""

    PENDING = "pending"  # written to the outbox, not yet handed to a channel
    SENDING = "sending"  # claimed by one sender; never handed to another
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class DeliveryResult:
    """What actually happened to a notification: ``ok`` only when the channel confirmed delivery."""

    key: str
    ok: bool
    detail: str = ""
    at: datetime = attrs.field(factory=utcnow)
    attempts: int = 1


@attrs.frozen(kw_only=True)
class Delivery:
    """A notification in the outbox and what happened to it (``result`` is None until a channel answered)."""

    notification: Notification
    status: DeliveryStatus
    result: DeliveryResult | None = None


@attrs.frozen(kw_only=True)
class EscalationEvent:
    """One entry of an escalation's journal: a lifecycle step or a problem met while a level fired.

    ``kind`` is one of started, level_fired, announced (routing notify messages sent), acknowledged,
    ack_timeout, escalated, resolved, cancelled, completed, unresolved (a schedule had nobody on call),
    target_failed (a target could not be expanded) and missed (an occurrence replaced after downtime).
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

    ``current_level`` is the last level that fired in the current pass (-1 before the first one fires);
    ``next_level`` and ``next_due_at`` say what fires next (None when nothing is scheduled).
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
    round: int = 0  # how many times an acknowledgement timed out and re-triggered the escalation
    deliveries: tuple[Delivery, ...] = ()
    events: tuple[EscalationEvent, ...] = ()
