"""Escalation state with its notification history, and the escalation policies."""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.models import EscalationPolicy, EscalationState
from tocsin.server.endpoints import Call, Endpoint, QueryParam
from tocsin.server.errors import ApiError
from tocsin.server.views import DeliveryList, PolicyList

__all__ = ["ENDPOINTS"]


async def get_escalation(call: Call) -> EscalationState:
    """GET /v1/escalations/{incident_id}."""
    return call.service.escalation(call.path("incident_id"))


async def dead_letters(call: Call) -> DeliveryList:
    """GET /v1/deliveries/dead."""
    limit = call.params.get("limit", 100)
    return DeliveryList(deliveries=tuple(call.service.storage.escalations.dead_letters(limit)))


async def list_policies(call: Call) -> PolicyList:
    """GET /v1/policies."""
    return PolicyList(policies=tuple(call.service.config.policies))


async def get_policy(call: Call) -> EscalationPolicy:
    """GET /v1/policies/{policy_id}."""
    policy_id = call.path("policy_id")
    policy = call.service.config.policy(policy_id)
    if policy is None:
        known = ", ".join(p.id for p in call.service.config.policies) or "(none)"
        raise ApiError(404, f"no policy {policy_id!r}; known: {known}")
    return policy


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/v1/escalations/{incident_id}",
        handler=get_escalation,
        summary="An incident's escalation: state, notifications with delivery results, journal",
        description=(
            "The latest escalation of the incident (open or ended): its status and position, the policy "
            "snapshot it runs on, every notification with its delivery status and the channel's answer, "
            "and the journal of lifecycle events. 404 when the incident is unknown or was never escalated."
        ),
        tag="escalations",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=EscalationState,
        errors=(404,),
    ),
    Endpoint(
        method="GET",
        path="/v1/deliveries/dead",
        handler=dead_letters,
        summary="Dead-lettered notifications",
        description=(
            "Notifications the outbox gave up on: retries exhausted, a permanent failure (4xx, redirect, "
            "refused destination) or an endpoint disabled by 410. Each carries the notification, its attempts "
            "and the channel's last answer."
        ),
        tag="escalations",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=DeliveryList,
        query=(QueryParam(name="limit", kind=int, description="how many (default 100)", minimum=1, maximum=1000),),
        errors=(422,),
    ),
    Endpoint(
        method="GET",
        path="/v1/policies",
        handler=list_policies,
        summary="The escalation policies",
        tag="policies",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=PolicyList,
    ),
    Endpoint(
        method="GET",
        path="/v1/policies/{policy_id}",
        handler=get_policy,
        summary="One escalation policy",
        tag="policies",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=EscalationPolicy,
        errors=(404,),
    ),
)
