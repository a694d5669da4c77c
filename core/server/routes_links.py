"""Action links: ``GET /v1/links/{token}`` shows what the link will do, ``POST`` (the page's button) does it.

A link is its own credential (signed, expiring, bound to one escalation, recipient and action; see
:mod:`tocsin.delivery.links`), so these endpoints take no bearer token. Opening a link changes nothing: mail
scanners and link previews that fetch URLs acknowledge nothing. The POST acts once, as the recipient the page
went to, and the page it answers with says what happened.
"""

from __future__ import annotations

from starlette.responses import Response

from tocsin.delivery.links import OPEN_PATH, ActionLinks, BadLink, ExpiredLink, LinkClaim
from tocsin.instants import from_micros
from tocsin.models import EscalationStatus
from tocsin.responding import ActionStatus, PageAction
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.pages import confirmation_page, message_page
from tocsin.server.responder import escalation_incident, when
from tocsin.server.service import Service

__all__ = ["ENDPOINTS"]

_ANSWER = {ActionStatus.DONE: 200, ActionStatus.UNCHANGED: 409, ActionStatus.GONE: 410, ActionStatus.USED: 410}
_TITLE = {
    ActionStatus.DONE: "Done",
    ActionStatus.UNCHANGED: "Nothing to do",
    ActionStatus.GONE: "Escalation over",
    ActionStatus.USED: "Link already used",
}


def _claim(service: Service, token: str) -> tuple[LinkClaim, PageAction] | Response:
    """What the action link says (and its action), or the page saying why it cannot be used."""
    links: ActionLinks | None = service.links
    if links is None:
        return message_page("No action links", "This tocsin makes no action links (server.public_url is not set).", 404)
    try:
        claim = links.read(token)
    except BadLink as exc:
        return message_page("Link not valid", str(exc), 404)
    except ExpiredLink as exc:
        return message_page("Link expired", str(exc), 410)
    if claim.action is None:  # the link that opens the console: it takes no action
        where = f"{links.public_url}{OPEN_PATH}{token}"
        return message_page("Not an action link", f"This link acts on nothing: it opens the incident at {where}.", 404)
    return claim, claim.action


async def open_link(call: Call) -> Response:
    """GET /v1/links/{token}."""
    service = call.service
    read = _claim(service, call.path("token"))
    if isinstance(read, Response):
        return read
    claim, action = read
    incident_id = escalation_incident(claim.escalation_id)
    incident = service.processor.get_incident(incident_id)
    row = service.engine.store.load(incident_id)
    if incident is None or row is None:
        return message_page("Escalation over", f"There is no escalation {claim.escalation_id!r}.", 410)
    facts = [f"Escalation {claim.escalation_id}: {row.status.value}."]
    if row.escalation_id != claim.escalation_id:
        facts = [f"This page was for escalation {claim.escalation_id}, which has ended."]
    elif row.status is EscalationStatus.ACKNOWLEDGED:
        at = from_micros(row.acknowledged_at) if row.acknowledged_at is not None else None
        facts.append(f"Acknowledged by {row.acknowledged_by} at {when(at)}.")
    facts.append(f"Incident state: {incident.state.value}.")
    title = f"[{incident.severity.value}] {incident.title} ({incident.id})"
    return confirmation_page(action.label, title, facts, claim.recipient)


async def use_link(call: Call) -> Response:
    """POST /v1/links/{token}."""
    service = call.service
    read = _claim(service, call.path("token"))
    if isinstance(read, Response):
        return read
    claim, action = read
    outcome = await service.responder.act(claim.escalation_id, action, by=claim.recipient, once=claim.once())
    return message_page(_TITLE[outcome.status], outcome.message, _ANSWER[outcome.status])


_ERRORS = (404, 409, 410)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/v1/links/{token}",
        handler=open_link,
        summary="An action link: the page that confirms it",
        description=(
            "What a page's action link (acknowledge, resolve, snooze 30 min, escalate now) opens: a small page "
            "naming the incident, the escalation's state and the action, with one button that POSTs the link. "
            "Opening it changes nothing. The link is its own credential (signed, expiring); 404 when it is not "
            "genuine or links are off (no `server.public_url`), 410 when it expired or its escalation is over."
        ),
        tag="links",
        scope=None,
        media_type="text/html",
        errors=_ERRORS,
        html_errors=_ERRORS,
    ),
    Endpoint(
        method="POST",
        path="/v1/links/{token}",
        handler=use_link,
        summary="An action link: take its action",
        description=(
            "Takes the link's action for the recipient the page went to, in one transaction, and answers with a "
            "page saying what happened. A link changes something once: used again it answers 410. 409 when there "
            "was nothing to do (already acknowledged by someone, already resolved; the link stays unused), 410 "
            "when it expired or its escalation is no longer the incident's current one, 404 when it is not "
            "genuine."
        ),
        tag="links",
        scope=None,
        media_type="text/html",
        errors=_ERRORS,
        html_errors=_ERRORS,
    ),
)
