"""The open endpoints: /health, /metrics (Prometheus) and /openapi.json."""

from __future__ import annotations

from starlette.responses import Response

from tocsin import __version__
from tocsin.server.endpoints import Call, Endpoint, Reply
from tocsin.server.metrics import CONTENT_TYPE, monitor_lag
from tocsin.server.views import Health

__all__ = ["ENDPOINTS"]


async def health(call: Call) -> Health | Reply:
    """GET /health: 200 while the store takes writes, 503 (saying why) when it does not."""
    service = call.service
    engine = service.engine
    fault = service.storage.probe()
    answer = Health(
        status="ok" if fault is None else "store failing",
        version=__version__,
        storage=service.storage.name,
        open_escalations=engine.active_count(),
        monitor_lag_seconds=monitor_lag(engine),
        instance_id=engine.instance_id,
        claim_every_seconds=engine.monitor.check_interval,
        lease_seconds=engine.lease_seconds,
        hears_announcements=service.announcements.connected if service.announcements is not None else None,
        config_hash=service.loaded.digest,
        config_loaded_at=service.loaded.loaded_at,
        store_error=fault,
    )
    return answer if fault is None else Reply(status=503, body=answer)


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
        description="503 with the same body when the store cannot take writes (locked, read-only, disk full).",
        tag="service",
        scope=None,
        response=Health,
        answers={503: "the store is failing: `store_error` says why"},
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
