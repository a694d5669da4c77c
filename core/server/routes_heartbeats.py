"""Heartbeat monitors: ``POST /v1/heartbeats/{name}`` is the ping a job sends with the heartbeat's own token;
``GET /v1/heartbeats`` lists them. See :mod:`tocsin.intake.heartbeats` for the deadlines and what a miss does."""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.intake.heartbeats import HeartbeatMonitor
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.errors import ApiError
from tocsin.server.routes_integrations import caller_token
from tocsin.server.views import HeartbeatList, HeartbeatStatus
from tocsin.store.records import HeartbeatState

__all__ = ["ENDPOINTS"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tocsin heartbeats"'}


def _status(
    monitor: HeartbeatMonitor, name: str, state: HeartbeatState | None, resolved: str | None = None
) -> HeartbeatStatus:
    heartbeat = monitor.settings(name)
    return HeartbeatStatus(
        name=name,
        interval=heartbeat.interval,
        status="missed" if state is not None and state.incident_id is not None else "ok",
        armed_at=state.armed_at if state is not None else None,
        last_ping=state.last_ping if state is not None else None,
        due_at=state.due_at if state is not None and state.incident_id is None else None,
        misses=state.misses if state is not None else 0,
        incident_id=state.incident_id if state is not None else None,
        resolved=resolved,
    )


async def ping_heartbeat(call: Call) -> HeartbeatStatus:
    """POST /v1/heartbeats/{name}."""
    service = call.service
    monitor = service.heartbeats
    name = call.path("name")
    if name not in monitor:
        raise ApiError(404, f"no heartbeat named {name!r}")
    token = caller_token(call.request)
    if token is None:
        raise ApiError(
            401,
            f"heartbeat {name!r} needs its token: send 'Authorization: Bearer <token>' or '?token=<token>'",
            headers=_CHALLENGE,
        )
    if not monitor.authorize(name, token):
        raise ApiError(401, f"wrong token for heartbeat {name!r}", headers=_CHALLENGE)
    ping = await service.commits.run(lambda: monitor.ping(name))
    return _status(monitor, name, ping.state, ping.resolved)


async def list_heartbeats(call: Call) -> HeartbeatList:
    """GET /v1/heartbeats."""
    monitor = call.service.heartbeats
    return HeartbeatList(heartbeats=tuple(_status(monitor, name, monitor.state(name)) for name in monitor.names()))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/v1/heartbeats",
        handler=list_heartbeats,
        summary="The heartbeat monitors",
        description="Each configured heartbeat: when it is due, its last ping, and the incident of a miss.",
        tag="heartbeats",
        scope=Scope.READ,
        response=HeartbeatList,
    ),
    Endpoint(
        method="POST",
        path="/v1/heartbeats/{name}",
        handler=ping_heartbeat,
        summary="Ping a heartbeat",
        description=(
            "The job behind heartbeat `name` checks in: it is due again one `interval` from now, and the "
            "incident its last miss opened, if still open, is resolved. Authenticate with the heartbeat's own "
            "token, as `Authorization: Bearer <token>` or the `token` query parameter (API tokens are not "
            "accepted here). A body, if any, is ignored."
        ),
        tag="heartbeats",
        scope=None,
        response=HeartbeatStatus,
        errors=(401, 404, 409),
    ),
)
