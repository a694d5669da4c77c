"""Every endpoint of the API, group by group. A feature adds its endpoints with one line here."""

from __future__ import annotations

from tocsin.server import (
    routes_escalations,
    routes_feeds,
    routes_incidents,
    routes_integrations,
    routes_rules,
    routes_schedules,
    routes_system,
)
from tocsin.server.endpoints import Endpoint

__all__ = ["ENDPOINT_GROUPS", "all_endpoints"]

# Each module's ENDPOINTS, in the order the router tries them (and the OpenAPI document lists them).
ENDPOINT_GROUPS: tuple[tuple[Endpoint, ...], ...] = (
    routes_system.ENDPOINTS,
    routes_incidents.ENDPOINTS,
    routes_escalations.ENDPOINTS,
    routes_schedules.ENDPOINTS,
    routes_feeds.ENDPOINTS,
    routes_rules.ENDPOINTS,
    routes_integrations.ENDPOINTS,
)


def all_endpoints() -> list[Endpoint]:
    """Every endpoint, in routing order."""
    return [endpoint for group in ENDPOINT_GROUPS for endpoint in group]
