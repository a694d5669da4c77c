"""tocsin: a rules-engine plugin framework for incident escalation.

The public face of the kernel. Plugins and embedding applications import from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tocsin import _moved
from tocsin.clock import Clock, ManualClock, SystemClock
from tocsin.config import Config, dump_config, load_config, parse_config
from tocsin.config.serving import ApiToken, ServerSettings, StorageSettings
from tocsin.delivery.channels import ChannelError, ChannelSet, Sender
from tocsin.delivery.outbox import MemorySink, Outbox
from tocsin.delivery.payload import PAYLOAD_VERSION, page_payload, page_subject, page_text
from tocsin.delivery.retry import RetryPolicy, parse_retry_after
from tocsin.delivery.settings import DeliverySettings
from tocsin.delivery.webhook.signing import InvalidSignature, signature_header, webhook_headers
from tocsin.errors import ConfigError, ConfigIssue, PluginError, TocsinError
from tocsin.escalation.engine import EscalationEngine
from tocsin.escalation.errors import (
    EscalationActiveError,
    EscalationError,
    EscalationNotActiveError,
    PolicyDisabledError,
    PolicyError,
    UnknownIncidentError,
    UnknownPolicyError,
)
from tocsin.escalation.targets import ExpandContext, TargetExecutor
from tocsin.escalation.working_hours import WorkingHours, WorkingInterval, WorkingWindow, compile_working_hours
from tocsin.hookspecs import hookimpl, hookspec
from tocsin.incidents import incident_from_json, incident_to_json
from tocsin.intake.inbound import (
    EventOutcome,
    EventResult,
    Inbound,
    IntegrationSetupError,
    Receipt,
    SourceError,
    UnknownIntegrationError,
)
from tocsin.intake.processor import IncidentProcessor, ProcessResult
from tocsin.intake.reconciler import Reconciliation, reconcile
from tocsin.integrations.events import EventAction, IncidentDefaults, IncidentEvent, Integration, PayloadError
from tocsin.manager import PluginInfo, PluginLoadFailure, Plugins, load_plugins
from tocsin.models import (
    ALL_URGENCIES,
    AckMode,
    ActionSpec,
    ContactSpec,
    Delivery,
    DeliveryResult,
    DeliveryStatus,
    EscalationEvent,
    EscalationLevel,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    FieldError,
    Incident,
    IncidentState,
    IncidentType,
    LevelCondition,
    Notification,
    OnCallSchedule,
    Override,
    Recipient,
    RepeatConfig,
    Resolution,
    RotationSpec,
    RoundRobin,
    RoutingRule,
    RuleCondition,
    ScheduleLayer,
    Severity,
    SourceSpec,
    TargetSpec,
    TimeRestrictions,
    Urgency,
    User,
    urgencies_field,
)
from tocsin.registry import (
    MISSING,
    ActionRegistrar,
    ChannelRegistrar,
    ExtractorRegistrar,
    OperatorRegistrar,
    Registry,
    RotationRegistrar,
    SourceRegistrar,
    TargetRegistrar,
    UnknownNameError,
)
from tocsin.routing.actions import ActionContext, Effect, Playbook, RoutingResult
from tocsin.routing.compile import ConditionSet, RuleError, compile_conditions
from tocsin.routing.explain import RoutingExplanation, RuleExplanation
from tocsin.routing.policies import select_policy
from tocsin.routing.router import RoutingRuleEvaluator
from tocsin.schedules.resolver import Gap, OnCallEntry, ScheduleError, ScheduleResolver, Shift, compile_schedule
from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.interfaces import DeliveryStore, EscalationRow, EscalationStore, IncidentChange, IncidentStore
from tocsin.store.memory import InMemoryIncidentStore, InMemoryStore
from tocsin.store.sqlite.store import SQLiteStore

if TYPE_CHECKING:
    from tocsin.delivery.webhook.post import OutcomeKind, WebhookOutcome, make_session, post_json
    from tocsin.delivery.webhook.ssrf import DestinationPolicy, UnsafeDestination

__version__ = "0.1.0"

_moved.install()  # the pre-package module paths (tocsin.signing, tocsin.sqlite_store, ...) still import

# Webhook delivery names need aiohttp: imported on first use, so ``import tocsin`` stays light.
_LAZY = {
    "DestinationPolicy": "tocsin.delivery.webhook.ssrf",
    "UnsafeDestination": "tocsin.delivery.webhook.ssrf",
    "OutcomeKind": "tocsin.delivery.webhook.post",
    "WebhookOutcome": "tocsin.delivery.webhook.post",
    "make_session": "tocsin.delivery.webhook.post",
    "post_json": "tocsin.delivery.webhook.post",
}


def __getattr__(name: str) -> Any:
    """Import a lazily exported name (see ``_LAZY``) the first time it is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tocsin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_URGENCIES",
    "MISSING",
    "PAYLOAD_VERSION",
    "AckMode",
    "ActionContext",
    "ActionRegistrar",
    "ActionSpec",
    "ApiToken",
    "ChannelError",
    "ChannelRegistrar",
    "ChannelSet",
    "Clock",
    "ConditionSet",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ContactSpec",
    "Delivery",
    "DeliveryResult",
    "DeliverySettings",
    "DeliveryStatus",
    "DeliveryStore",
    "DestinationPolicy",
    "Effect",
    "EscalationActiveError",
    "EscalationEngine",
    "EscalationError",
    "EscalationEvent",
    "EscalationLevel",
    "EscalationNotActiveError",
    "EscalationPolicy",
    "EscalationRow",
    "EscalationState",
    "EscalationStatus",
    "EscalationStore",
    "EventAction",
    "EventOutcome",
    "EventResult",
    "ExpandContext",
    "ExtractorRegistrar",
    "FieldError",
    "Gap",
    "InMemoryIncidentStore",
    "InMemoryStore",
    "Inbound",
    "Incident",
    "IncidentChange",
    "IncidentDefaults",
    "IncidentEvent",
    "IncidentProcessor",
    "IncidentState",
    "IncidentStore",
    "IncidentType",
    "Integration",
    "IntegrationSetupError",
    "InvalidSignature",
    "LevelCondition",
    "ManualClock",
    "MemorySink",
    "Notification",
    "OnCallEntry",
    "OnCallSchedule",
    "OperatorRegistrar",
    "Outbox",
    "OutcomeKind",
    "Override",
    "PayloadError",
    "Playbook",
    "PluginError",
    "PluginInfo",
    "PluginLoadFailure",
    "Plugins",
    "PolicyDisabledError",
    "PolicyError",
    "ProcessResult",
    "Receipt",
    "Recipient",
    "Reconciliation",
    "Registry",
    "RepeatConfig",
    "Resolution",
    "RetryPolicy",
    "RotationRegistrar",
    "RotationSpec",
    "RoundRobin",
    "RoutingExplanation",
    "RoutingResult",
    "RoutingRule",
    "RoutingRuleEvaluator",
    "RuleCondition",
    "RuleError",
    "RuleExplanation",
    "SQLiteStore",
    "ScheduleError",
    "ScheduleLayer",
    "ScheduleResolver",
    "Sender",
    "ServerSettings",
    "Severity",
    "Shift",
    "SourceError",
    "SourceRegistrar",
    "SourceSpec",
    "StaleStateError",
    "StorageSettings",
    "StoreError",
    "SystemClock",
    "TargetExecutor",
    "TargetRegistrar",
    "TargetSpec",
    "TimeRestrictions",
    "TocsinError",
    "UnknownIncidentError",
    "UnknownIntegrationError",
    "UnknownNameError",
    "UnknownPolicyError",
    "UnsafeDestination",
    "Urgency",
    "User",
    "WebhookOutcome",
    "WorkingHours",
    "WorkingInterval",
    "WorkingWindow",
    "compile_conditions",
    "compile_schedule",
    "compile_working_hours",
    "dump_config",
    "hookimpl",
    "hookspec",
    "incident_from_json",
    "incident_to_json",
    "load_config",
    "load_plugins",
    "make_session",
    "page_payload",
    "page_subject",
    "page_text",
    "parse_config",
    "parse_retry_after",
    "post_json",
    "reconcile",
    "select_policy",
    "signature_header",
    "urgencies_field",
    "webhook_headers",
]
