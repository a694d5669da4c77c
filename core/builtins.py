"""The built-in plugins, by dotted module name. The kernel knows them only through this list."""

from __future__ import annotations

__all__ = ["BUILTIN_PLUGINS"]

BUILTIN_PLUGINS: tuple[str, ...] = (
    # condition operators
    "tocsin.conditions.equality",
    "tocsin.conditions.comparison",
    "tocsin.conditions.membership",
    "tocsin.conditions.text",
    "tocsin.conditions.pattern",
    "tocsin.conditions.existence",
    # field extractors
    "tocsin.plugins.fields_incident",
    "tocsin.plugins.fields_labels",
    "tocsin.plugins.fields_jmespath",
    # routing actions
    "tocsin.plugins.action_notify",
    "tocsin.plugins.action_assign",
    "tocsin.plugins.action_playbook",
    "tocsin.plugins.action_labels",
    "tocsin.plugins.action_severity",
    "tocsin.plugins.action_suppress",
    "tocsin.plugins.action_use_policy",
    # rotation strategies
    "tocsin.plugins.rotation_daily",
    "tocsin.plugins.rotation_weekly",
    "tocsin.plugins.rotation_custom",
    "tocsin.plugins.rotation_follow_the_sun",
    # escalation targets
    "tocsin.targets.user",
    "tocsin.targets.team",
    "tocsin.targets.schedule",
    "tocsin.targets.webhook",
    # notification channels
    "tocsin.plugins.channel_log",
    "tocsin.plugins.channel_webhook",
    "tocsin.plugins.channel_email",
    "tocsin.plugins.channel_slack",
    "tocsin.plugins.channel_apprise",
    # observers
    "tocsin.plugins.audit",
    # integration sources
    "tocsin.plugins.source_alertmanager",
    "tocsin.plugins.source_grafana",
    "tocsin.plugins.source_generic",
    # playbook types
    "tocsin.plugins.playbook_webhook",
)
