"""Inbound integrations: ``POST /v1/integrations/{name}``, where monitoring tools send their alerts.

Each integration has its own token (not an API token): ``Authorization: Bearer <token>``, or ``?token=<token>``
for tools that cannot set a header. An unknown name is a 404, a missing or wrong token a 401, a body that is
not JSON a 400, a body the source cannot read a 422 naming the JSONPath; in each case nothing changes.
"""

from __future__ import annotations

from starlette.requests import Request

from tocsin.intake.inbound import EventResult, Receipt, SourceError
from tocsin.integrations.events import PayloadError
from tocsin.logs import get_logger
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.errors import ApiError, invalid

__all__ = ["ENDPOINTS", "caller_token"]

_log = get_logger(component="integrations")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tocsin integrations"'}
_COUNTED = {EventResult.CREATED: "created", EventResult.DUPLICATE: "duplicate"}


def caller_token(request: Request) -> str | None:
    """The token a tool sent: ``Authorization: Bearer <token>``, or ``?token=<token>`` (None: neither)."""
    header = request.headers.get("authorization")
    if header:
        kind, _, secret = header.strip().partition(" ")
        return secret.strip() if kind.lower() == "bearer" and secret.strip() else None
    return request.query_params.get("token")


async def receive_integration(call: Call) -> Receipt:
    """POST /v1/integrations/{name}."""
    name = call.path("name")
    inbound = call.service.inbound
    if name not in inbound:
        raise ApiError(404, f"no integration named {name!r}")
    token = caller_token(call.request)
    if token is None:
        raise ApiError(
            401,
            f"integration {name!r} needs its token: send 'Authorization: Bearer <token>' or '?token=<token>'",
            headers=_CHALLENGE,
        )
    if not inbound.authorize(name, token):
        raise ApiError(401, f"wrong token for integration {name!r}", headers=_CHALLENGE)
    body = await call.json()
    if body is None:
        raise ApiError(400, "empty body: the integration expects the tool's JSON payload")
    try:
        receipt = await call.service.commits.run(lambda: inbound.receive(name, body))
    except PayloadError as exc:
        raise invalid([(exc.path, exc.message)]) from None
    except SourceError as exc:
        _log.error("integration source failed", integration=name, error=str(exc))
        raise ApiError(500, str(exc)) from None
    counter = call.service.metrics.incidents_received
    for outcome in receipt.outcomes:
        label = _COUNTED.get(outcome.result)
        if label is not None:
            counter.labels(label).inc()
    return receipt


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path="/v1/integrations/{name}",
        handler=receive_integration,
        summary="Receive a monitoring tool's payload",
        description=(
            "The integration `name` from the config's `integrations` section reads the body with its source "
            "(alertmanager, grafana, generic, or a plugin's) into incident events, each applied in order: "
            "`create` opens an incident or counts a repeat of the open one with the same dedup key, `update` "
            "refreshes it, `resolve` resolves it and stops its escalation. Authenticate with the "
            "integration's own token, as `Authorization: Bearer <token>` or the `token` query parameter (API "
            "tokens are not accepted here). Nothing changes unless the whole body can be read: 400 when it "
            "is not JSON, 422 naming the path of the first problem."
        ),
        tag="integrations",
        scope=None,
        response=Receipt,
        errors=(400, 401, 404, 408, 413, 422),
    ),
)
