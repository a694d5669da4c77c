"""Every endpoint of the API, group by group. A feature adds its endpoints with one line here."""

from __future__ import annotations

from tocsin.registry import Registry
from tocsin.server import (
    routes_config,
    routes_escalations,
    routes_feeds,
    routes_heartbeats,
    routes_incident_work,
    routes_incidents,
    routes_integrations,
    routes_links,
    routes_maintenance,
    routes_overrides,
    routes_rules,
    routes_schedules,
    routes_system,
)
from tocsin.server.endpoints import Endpoint
from tocsin.server.routes_interactions import interaction_endpoints

__all__ = ["ENDPOINT_GROUPS", "all_endpoints"]

# Each module's ENDPOINTS, in the order the router tries them (and the OpenAPI document lists them).
ENDPOINT_GROUPS: tuple[tuple[Endpoint, ...], ...] = (
    routes_system.ENDPOINTS,
    routes_incidents.ENDPOINTS,
    routes_incident_work.ENDPOINTS,
    routes_escalations.ENDPOINTS,
    routes_schedules.ENDPOINTS,
    routes_overrides.ENDPOINTS,
    routes_feeds.ENDPOINTS,
    routes_rules.ENDPOINTS,
    routes_integrations.ENDPOINTS,
    routes_heartbeats.ENDPOINTS,
    routes_maintenance.ENDPOINTS,
    routes_config.ENDPOINTS,
    routes_links.ENDPOINTS,
)


def all_endpoints(registry: Registry | None = None) -> list[Endpoint]:
    """Every endpoint, in routing order; with ``registry``, also the interactions endpoint of each channel that
    has one (``POST /v1/<channel>/interactions``)."""
    fixed = [endpoint for group in ENDPOINT_GROUPS for endpoint in group]
    return fixed + (interaction_endpoints(registry) if registry is not None else [])
