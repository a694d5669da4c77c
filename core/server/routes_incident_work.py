"""Working an incident: notes, reassigning it, taking an acknowledgement back, and its timeline.

Each change is one unit of work and is journalled (the escalation's journal, or the notes) and told to the audit
log. See docs/api.md.
"""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.views import (
    ActionRequest,
    IncidentDetail,
    NoteList,
    NoteRequest,
    ReassignRequest,
    Timeline,
)
from tocsin.store.records import IncidentNote

__all__ = ["ENDPOINTS"]

_BODY_ERRORS = (400, 404, 408, 413, 422)


async def add_note(call: Call) -> IncidentNote:
    """POST /v1/incidents/{incident_id}/notes."""
    incident_id = call.path("incident_id")
    call.service.known(incident_id)  # an unknown incident is a 404 whatever the body says
    request: NoteRequest = await call.body()
    return await call.service.add_note(incident_id, request, call.actor)


async def list_notes(call: Call) -> NoteList:
    """GET /v1/incidents/{incident_id}/notes."""
    incident_id = call.path("incident_id")
    call.service.known(incident_id)
    return NoteList(incident_id=incident_id, notes=tuple(call.service.storage.operations.notes(incident_id)))


async def reassign_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/reassign."""
    incident_id = call.path("incident_id")
    call.service.known(incident_id)
    request: ReassignRequest = await call.body()
    return await call.service.reassign(incident_id, request, call.actor)


async def unacknowledge_incident(call: Call) -> IncidentDetail:
    """POST /v1/incidents/{incident_id}/unacknowledge."""
    incident_id = call.path("incident_id")
    call.service.known(incident_id)
    request: ActionRequest | None = await call.body()
    by = request.by if request is not None and request.by else call.actor
    return await call.service.unacknowledge(incident_id, by)


async def get_timeline(call: Call) -> Timeline:
    """GET /v1/incidents/{incident_id}/timeline."""
    return call.service.timeline(call.path("incident_id"))


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
