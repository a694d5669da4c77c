"""Inbound integrations, the data side: incident events, integration settings, payload reading helpers and the
alert-group body that Alertmanager and Grafana share. Sources themselves are plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.integrations.alert_groups import AlertGroupSettings, alert_group_events, labels_fingerprint
    from tocsin.integrations.events import (
        DEFAULT_SEVERITY_MAP,
        EventAction,
        IncidentDefaults,
        IncidentEvent,
        Integration,
        PayloadError,
        list_at,
        mapping_at,
        severity_lookup,
        string_at,
        string_map_at,
    )
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.integrations.alert_groups": ("AlertGroupSettings", "alert_group_events", "labels_fingerprint"),
            "tocsin.integrations.events": (
                "DEFAULT_SEVERITY_MAP",
                "EventAction",
                "IncidentDefaults",
                "IncidentEvent",
                "Integration",
                "PayloadError",
                "list_at",
                "mapping_at",
                "severity_lookup",
                "string_at",
                "string_map_at",
            ),
        },
    )

__all__ = [
    "DEFAULT_SEVERITY_MAP",
    "AlertGroupSettings",
    "EventAction",
    "IncidentDefaults",
    "IncidentEvent",
    "Integration",
    "PayloadError",
    "alert_group_events",
    "labels_fingerprint",
    "list_at",
    "mapping_at",
    "severity_lookup",
    "string_at",
    "string_map_at",
]
