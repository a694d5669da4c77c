"""tocsin: a rules-engine plugin framework for incident escalation.

The public face of the kernel. Plugins and embedding applications import from here.
"""

from __future__ import annotations

from tocsin.config import Config, dump_config, load_config, parse_config
from tocsin.errors import ConfigError, ConfigIssue, PluginError, TocsinError
from tocsin.hookspecs import hookimpl, hookspec
from tocsin.manager import PluginInfo, PluginLoadFailure, Plugins, load_plugins
from tocsin.models import (
    ActionSpec,
    ContactSpec,
    DeliveryResult,
    EscalationLevel,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    FieldError,
    Incident,
    IncidentState,
    IncidentType,
    Notification,
    OnCallSchedule,
    Override,
    Recipient,
    RepeatConfig,
    Resolution,
    RotationSpec,
    RoutingRule,
    RuleCondition,
    ScheduleLayer,
    Severity,
    TargetSpec,
    TimeRestrictions,
    User,
)
from tocsin.registry import (
    MISSING,
    ActionRegistrar,
    ChannelRegistrar,
    ExtractorRegistrar,
    OperatorRegistrar,
    Registry,
    RotationRegistrar,
    TargetRegistrar,
    UnknownNameError,
)

__version__ = "0.1.0"

__all__ = [
    "MISSING",
    "ActionRegistrar",
    "ActionSpec",
    "ChannelRegistrar",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ContactSpec",
    "DeliveryResult",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStatus",
    "ExtractorRegistrar",
    "FieldError",
    "Incident",
    "IncidentState",
    "IncidentType",
    "Notification",
    "OnCallSchedule",
    "OperatorRegistrar",
    "Override",
    "PluginError",
    "PluginInfo",
    "PluginLoadFailure",
    "Plugins",
    "Recipient",
    "Registry",
    "RepeatConfig",
    "Resolution",
    "RotationRegistrar",
    "RotationSpec",
    "RoutingRule",
    "RuleCondition",
    "ScheduleLayer",
    "Severity",
    "TargetRegistrar",
    "TargetSpec",
    "TimeRestrictions",
    "TocsinError",
    "UnknownNameError",
    "User",
    "dump_config",
    "hookimpl",
    "hookspec",
    "load_config",
    "load_plugins",
    "parse_config",
]
