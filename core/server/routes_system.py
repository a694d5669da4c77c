"""The open endpoints: /health, /metrics (Prometheus) and /openapi.json."""

from __future__ import annotations

from starlette.responses import Response

from tocsin import __version__
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.metrics import CONTENT_TYPE, monitor_lag
from tocsin.server.views import Health

__all__ = ["ENDPOINTS"]


async def health(call: Call) -> Health:
    """GET /health."""
    service = call.service
    engine = service.engine
    return Health(
        status="ok",
        version=__version__,
        storage=service.storage.name,
        open_escalations=engine.active_count(),
        monitor_lag_seconds=monitor_lag(engine),
    )


async def metrics(call: Call) -> Response:
    """GET /metrics."""
    return Response(call.service.metrics.render(), media_type=CONTENT_TYPE)


async def openapi(call: Call) -> Response:
    """GET /openapi.json."""
    return Response(call.request.app.state.openapi, media_type="application/json")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/health",
        handler=health,
        summary="Liveness: version, store, open escalations, timer lag",
        tag="service",
        scope=None,
        response=Health,
    ),
    Endpoint(
        method="GET",
        path="/metrics",
        handler=metrics,
        summary="Prometheus metrics",
        description=(
            "Incidents by state, escalations by status, delivery attempts by channel and result, delivery "
            "latency, the timer's lag, and HTTP requests."
        ),
        tag="service",
        scope=None,
        media_type="text/plain",
    ),
    Endpoint(
        method="GET",
        path="/openapi.json",
        handler=openapi,
        summary="This API's OpenAPI 3.1 document",
        tag="service",
        scope=None,
        media_type="application/json",
    ),
)
