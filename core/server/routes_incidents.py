"""Incidents: raise (with dedup, routing and escalation), list, read, and respond to one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.config.serving import Scope
from tocsin.intake.processor import IncidentUpdate, ProcessResult
from tocsin.models import Incident, IncidentState, Severity
from tocsin.server.endpoints import Call, Endpoint, QueryParam, Reply
from tocsin.server.errors import invalid
from tocsin.server.incident_search import CURSOR_PATTERN, list_of
from tocsin.server.views import ActionRequest, IncidentDetail, IncidentPage, IncidentPatch, SnoozeRequest

__all__ = ["ENDPOINTS"]

_BODY_ERRORS = (400, 408, 413, 422)
_PER_INCIDENT = (400, 404, 408, 409, 413, 422)


async def create_incident(call: Call) -> Any:
    """POST /v1/incidents."""
    document = await call.json()
    if document is None:
        raise invalid([("$", "a JSON object with the incident's fields is required")])
    key = call.request.headers.get("idempotency-key")
    result = await call.service.create_incident(document, idempotency_key=key)
    return Reply(status=200, body=result) if result.duplicate or result.replayed else result


async def list_incidents(call: Call) -> IncidentPage:
    """GET /v1/incidents."""
    return call.service.incidents(call.params)


async def get_incident(call: Call) -> IncidentDetail:
    """GET /v1/incidents/{incident_id}."""
    return call.service.incident(call.path("incident_id"))


async def update_incident(call: Call) -> IncidentUpdate:
    """PATCH /v1/incidents/{incident_id}."""
    patch: IncidentPatch = await call.body()
    by = patch.by or call.actor
    incident_id = call.path("incident_id")
    return await call.service.commits.run(lambda: call.service.update_incident(incident_id, patch.changes(), by))


async def _actor(call: Call) -> str | None:
    request = await call.body()
    return request.by if request is not None and request.by else call.actor


async def acknowledge_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/acknowledge."""
    by = await _actor(call)
    return await call.service.commits.run(lambda: call.service.acknowledge(call.path("incident_id"), by))


async def resolve_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/resolve."""
    by = await _actor(call)
    return await call.service.commits.run(lambda: call.service.resolve(call.path("incident_id"), by))


async def cancel_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/cancel."""
    by = await _actor(call)
    return await call.service.commits.run(lambda: call.service.cancel(call.path("incident_id"), by))


async def escalate_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/escalate."""
    by = await _actor(call)
    return await call.service.commits.run(lambda: call.service.escalate(call.path("incident_id"), by))


async def snooze_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/snooze."""
    request: SnoozeRequest = await call.body()
    by = request.by or call.actor
    return await call.service.commits.run(lambda: call.service.snooze(call.path("incident_id"), request.minutes, by))


def _action(
    verb: str, handler: Any, scope: Scope, summary: str, description: str, extra: tuple[int, ...] = ()
) -> Endpoint:
    return Endpoint(
        method="POST",
        path=f"/v1/incidents/{{incident_id}}/{verb}",
        handler=handler,
        summary=summary,
        description=description,
        tag="incidents",
        scope=scope,
        response=IncidentDetail,
        body=ActionRequest,
        body_required=False,
        errors=_PER_INCIDENT + extra,
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path="/v1/incidents",
        handler=create_incident,
        summary="Raise an incident",
        description=(
            "Dedup (a repeat of an open incident's dedup_key, or of its id, is folded into it and answered "
            "with 200), route through the rules (their actions change the incident), choose a policy and "
            "start its escalation (201). `id` and `created_at` may be left out. Posting the id of a resolved "
            "or closed incident is a 409. Everything is saved in one transaction, answered only after it "
            "commits. A request with an `Idempotency-Key` header that was already used is answered with "
            "what the first request made (200, `replayed: true`), so a client may retry after a timeout or "
            "a 503 without raising the incident twice. `actions` says what each action of the matched rules did: "
            "`applied`, `ignored`, `failed`, or `queued` (an `apply_playbook` run, sent through the outbox once the "
            "incident is saved; its answer is listed with the escalation's deliveries)."
        ),
        tag="incidents",
        scope=Scope.RESPOND,
        response=ProcessResult,
        status=201,
        answers={200: "a duplicate (folded into the open incident it repeats) or a replayed Idempotency-Key"},
        body=Incident,
        errors=(*_BODY_ERRORS, 409),
    ),
    Endpoint(
        method="GET",
        path="/v1/incidents",
        handler=list_incidents,
        summary="List incidents, newest first",
        description=(
            "Filters combine (all must hold); `status`, `severity` and `label` may be given more than once "
            "(`status` and `severity` also comma-separated). Page with `next_cursor` (`cursor=`); a filtered "
            "page may hold fewer than `limit` incidents and still have a `next_cursor` (at most 2000 incidents "
            "are looked at per request): follow it until it is null. A query parameter the list does not take "
            "is a 422 naming it."
        ),
        tag="incidents",
        scope=Scope.READ,
        response=IncidentPage,
        query=(
            QueryParam(name="open", kind=bool, description="only incidents not Resolved or Closed"),
            QueryParam(
                name="status",
                kind=str,
                repeated=True,
                description="incident states (Detected, Triaged, Investigating, Remediating, Resolved, Closed)",
                pattern=list_of(IncidentState),
            ),
            QueryParam(
                name="severity", kind=str, repeated=True, description="severities (P0 to P4)", pattern=list_of(Severity)
            ),
            QueryParam(name="policy", kind=str, description="only incidents whose latest escalation runs this policy"),
            QueryParam(name="label", kind=str, repeated=True, description="a label as key=value", pattern="[^=]+=.*"),
            QueryParam(
                name="since", kind=datetime, description="only incidents created at or after, ISO 8601 (UTC default)"
            ),
            QueryParam(
                name="cursor",
                kind=str,
                description="a next_cursor of the page before",
                pattern=CURSOR_PATTERN,
            ),
            QueryParam(name="limit", kind=int, description="page size (default 50)", minimum=1, maximum=500),
            QueryParam(
                name="offset",
                kind=int,
                description="incidents to skip (a list without filters)",
                minimum=0,
                maximum=10**9,
            ),
        ),
        errors=(422,),
        refuse_unknown_query=True,
    ),
    Endpoint(
        method="GET",
        path="/v1/incidents/{incident_id}",
        handler=get_incident,
        summary="Read an incident and its escalation",
        tag="incidents",
        scope=Scope.READ,
        response=IncidentDetail,
        errors=(404,),
    ),
    Endpoint(
        method="PATCH",
        path="/v1/incidents/{incident_id}",
        handler=update_incident,
        summary="Change an incident's title, description, severity or labels",
        description=(
            "The routing rules run again over the changed incident: the rules that depend on what changed apply "
            "their actions to it (a dry run: notify messages and playbooks do not run again), and the answer "
            "says which rules match now and what each action did. The escalation keeps its policy, sees the "
            "changed incident from now on, and journals `incident_updated`. `labels` replaces the labels. 409 "
            "when the incident is resolved or closed."
        ),
        tag="incidents",
        scope=Scope.RESPOND,
        response=IncidentUpdate,
        body=IncidentPatch,
        errors=_PER_INCIDENT,
    ),
    _action(
        "acknowledge",
        acknowledge_incident,
        Scope.RESPOND,
        "Acknowledge the incident's escalation",
        "Levels with stop_on_ack stop firing and repeats stop. An exhausted escalation (status completed: every "
        "level fired unanswered) can be acknowledged too. 409 when it is already acknowledged, resolved or "
        "cancelled; 429 (with Retry-After) past the per-incident limit of server.ack_rate_limit.per_minute.",
        (429,),
    ),
    _action(
        "resolve",
        resolve_incident,
        Scope.RESPOND,
        "Resolve the incident",
        "The incident becomes Resolved and its escalation stops. Resolving twice is harmless; a Closed "
        "incident is a 409.",
    ),
    _action(
        "cancel",
        cancel_incident,
        Scope.ADMIN,
        "Cancel the incident's escalation",
        "Stops paging without resolving the incident (admin scope). 409 when the escalation already ended otherwise.",
    ),
    Endpoint(
        method="POST",
        path="/v1/incidents/{incident_id}/snooze",
        handler=snooze_incident,
        summary="Snooze the acknowledged escalation",
        description=(
            "Not resolved within `minutes`, the escalation re-triggers: active again, the acknowledged level "
            "pages again, and the schedule goes on from there. Snoozing again moves the time. An exhausted "
            "escalation (completed) is acknowledged and snoozed. 409 when the escalation is active and not "
            "acknowledged, or resolved or cancelled."
        ),
        tag="incidents",
        scope=Scope.RESPOND,
        response=IncidentDetail,
        body=SnoozeRequest,
        errors=_PER_INCIDENT,
    ),
    _action(
        "escalate",
        escalate_incident,
        Scope.RESPOND,
        "Escalate to the next level now",
        "The next level fires now and the levels after it count their delays from now. An exhausted escalation "
        "(completed) does what its policy's on_exhausted says: stay starts over at level 0, repeat_last pages "
        "the last level again, page pages the on_exhausted targets. 409 when the escalation is resolved or "
        "cancelled, or acknowledged with no level left to fire.",
    ),
)
