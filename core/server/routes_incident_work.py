"""Working an incident: notes, reassigning it, taking an acknowledgement back, and its timeline.

Each change is one unit of work and is journalled (the escalation's journal, or the notes) and told to the audit
log. See docs/api.md.
"""

from __future__ import annotations

import attrs

from tocsin.config.serving import Scope
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.errors import ApiError, invalid
from tocsin.server.timeline import incident_timeline
from tocsin.server.views import (
    ActionRequest,
    IncidentDetail,
    NoteList,
    NoteRequest,
    ReassignRequest,
    Timeline,
)
from tocsin.store.records import IncidentNote, new_id

__all__ = ["ENDPOINTS"]

_BODY_ERRORS = (400, 404, 408, 413, 422)


async def add_note(call: Call) -> IncidentNote:
    """POST /v1/incidents/{incident_id}/notes."""
    service = call.service
    incident_id = call.path("incident_id")
    service.known(incident_id)
    request: NoteRequest = await call.body()
    note = IncidentNote(
        id=new_id(), incident_id=incident_id, at=service.clock.now(), by=request.by or call.actor, text=request.text
    )
    await service.commits.run(lambda: service.storage.operations.add_note(note))
    service.record("incident.note_added", incident_id, note.by, note=note.id)
    return note


async def list_notes(call: Call) -> NoteList:
    """GET /v1/incidents/{incident_id}/notes."""
    incident_id = call.path("incident_id")
    call.service.known(incident_id)
    return NoteList(incident_id=incident_id, notes=tuple(call.service.storage.operations.notes(incident_id)))


async def reassign_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/reassign."""
    service = call.service
    incident_id = call.path("incident_id")
    service.known(incident_id)  # an unknown incident is a 404 whatever the body says
    request: ReassignRequest = await call.body()
    by = request.by or call.actor
    engine = service.engine
    if request.user is not None and request.user not in service.loaded.people:
        raise invalid([("$.user", f"{request.user!r} is not a person the config knows (its users, teams, schedules)")])
    if request.policy is not None and engine.get_policy(request.policy) is None:
        known = ", ".join(policy.id for policy in engine.policies()) or "(none)"
        raise invalid([("$.policy", f"unknown policy {request.policy!r}; known: {known}")])

    def reassign() -> IncidentDetail:
        incident = service.known(incident_id)
        if not incident.state.is_open:
            raise ApiError(409, f"incident {incident_id!r} is {incident.state.value}: there is nothing to reassign")
        if request.user is not None:
            incident = attrs.evolve(incident, assignees=(request.user,))
            service.storage.incidents.save(incident)
        engine.reassign(incident, policy_id=request.policy, person=request.user, by=by)
        return service.incident(incident_id)

    detail = await service.commits.run(reassign)
    target = {"user": request.user} if request.user is not None else {"policy": request.policy}
    service.record("incident.reassigned", incident_id, by, **target)
    return detail


async def unacknowledge_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/unacknowledge."""
    service = call.service
    incident_id = call.path("incident_id")
    service.known(incident_id)
    request: ActionRequest | None = await call.body()
    by = request.by if request is not None and request.by else call.actor

    def unacknowledge() -> IncidentDetail:
        service.known(incident_id)
        service.engine.unacknowledge(incident_id, by=by)
        return service.incident(incident_id)

    detail = await service.commits.run(unacknowledge)
    service.record("incident.unacknowledged", incident_id, by)
    return detail


async def get_timeline(call: Call) -> Timeline:
    """GET /v1/incidents/{incident_id}/timeline."""
    service = call.service
    incident_id = call.path("incident_id")
    service.known(incident_id)
    storage = service.storage
    return incident_timeline(incident_id, service.engine, storage.incidents, storage.operations)


_BASE = "/v1/incidents/{incident_id}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path=_BASE + "/notes",
        handler=add_note,
        summary="Add a note to an incident",
        description="`text` (1 to 4000 characters) is kept with the incident and shown in its timeline.",
        tag="incidents",
        scope=Scope.RESPOND,
        response=IncidentNote,
        status=201,
        body=NoteRequest,
        errors=_BODY_ERRORS,
    ),
    Endpoint(
        method="GET",
        path=_BASE + "/notes",
        handler=list_notes,
        summary="The notes on an incident",
        tag="incidents",
        scope=Scope.READ,
        response=NoteList,
        errors=(404,),
    ),
    Endpoint(
        method="POST",
        path=_BASE + "/reassign",
        handler=reassign_incident,
        summary="Reassign an incident",
        description=(
            "The escalation restarts on a new target: `user` (a person the config knows: assigned to the "
            "incident and paged now, with the repeats of the policy that ran) or `policy` (a configured policy, "
            "from its first level). The escalation that was running ends (cancelled; its journal says "
            "`reassigned`). 409 when the incident is resolved or closed; 422 naming `user` or `policy` when "
            "unknown."
        ),
        tag="incidents",
        scope=Scope.RESPOND,
        response=IncidentDetail,
        body=ReassignRequest,
        errors=(*_BODY_ERRORS, 409),
    ),
    Endpoint(
        method="POST",
        path=_BASE + "/unacknowledge",
        handler=unacknowledge_incident,
        summary="Take an acknowledgement back",
        description=(
            "The escalation is active again and goes on at its next level: at that level's own time, or now "
            "if it has passed (the levels after it count from then). With no level left, the acknowledged "
            "level pages again now. 409 when the escalation is not acknowledged."
        ),
        tag="incidents",
        scope=Scope.RESPOND,
        response=IncidentDetail,
        body=ActionRequest,
        body_required=False,
        errors=(*_BODY_ERRORS, 409),
    ),
    Endpoint(
        method="GET",
        path=_BASE + "/timeline",
        handler=get_timeline,
        summary="An incident's timeline",
        description=(
            "Everything recorded about the incident in time order: its versions (raised, state changes), the "
            "journal of each escalation it had, every delivery attempt of its pages, its notes, and the "
            "maintenance window that held it."
        ),
        tag="incidents",
        scope=Scope.READ,
        response=Timeline,
        errors=(404,),
    ),
)
