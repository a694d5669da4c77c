"""Routing dry run: which rules match an incident, what they change, and which policy would escalate it."""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.views import EvaluateRequest, RouteAnswer

__all__ = ["ENDPOINTS"]


async def evaluate_rules(call: Call) -> RouteAnswer:
    """POST /v1/rules/evaluate."""
    document = await call.json()
    incident = document.get("incident") if isinstance(document, dict) else None
    if isinstance(incident, dict) and "created_at" not in incident:
        document = {**document, "incident": {**incident, "created_at": call.service.clock.now().isoformat()}}
    request: EvaluateRequest = call.structure(document)
    return await call.service.evaluate(request.incident, request.explain)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path="/v1/rules/evaluate",
        handler=evaluate_rules,
        summary="Route an incident as a dry run, with an explanation",
        description=(
            "Nothing is stored, delivered or started: the answer is what `tocsin route --json --explain` "
            "prints for the incident against the server's rules and policies."
        ),
        tag="rules",
        scope=Scope.READ,
        response=RouteAnswer,
        body=EvaluateRequest,
        errors=(400, 408, 413, 422),
    ),
)
