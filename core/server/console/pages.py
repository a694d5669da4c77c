"""The console's pages under ``/ui/``: signing in (with an API token, or through a page's link at
``/ui/links/{token}``), the incident list and an incident's page; the schedule pages are in
:mod:`.schedule_pages`. Each handler reads what it shows through the same :class:`~tocsin.server.service.Service`
the API uses, and each action calls the same service method.

Every page needs a signed-in session (else it redirects to the sign-in page); the ``/ui/live/…`` parts the
pages refresh answer 401 instead, and the page's script reloads into the sign-in page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tocsin.config.serving import Scope
from tocsin.delivery.links import BadLink, ExpiredLink
from tocsin.escalation.errors import EscalationError
from tocsin.logs import get_logger
from tocsin.server.console.actions import ACTIONS, action_named
from tocsin.server.console.chains import describe_target
from tocsin.server.console.listing import STATUSES, IncidentFilter, list_rows
from tocsin.server.console.schedule_pages import SchedulePages
from tocsin.server.console.session import Session, Sessions
from tocsin.server.console.web import PREFIX, Web, failure_lines, redirect
from tocsin.server.errors import ApiError, api_error
from tocsin.server.responder import escalation_incident
from tocsin.server.service import Service
from tocsin.store.busy import retry_while_busy
from tocsin.store.errors import StaleStateError, StoreError

__all__ = ["Console"]

_log = get_logger(component="console")

Handler = Callable[[Request, Session], Awaitable[Response]]


class Console:
    """The web console of one service: its routes, mounted beside the API's."""

    def __init__(self, service: Service, *, session_key: str | None = None) -> None:
        self.service = service
        settings = service.config.server
        sessions = Sessions(settings, lambda: service.auth, service.clock, links=service.links, key=session_key)
        self.web = Web(service, sessions)
        self.schedules = SchedulePages(service, self.web)

    def routes(self) -> list[BaseRoute]:
        """The console's routes, and ``/`` redirecting to it."""
        page, part, schedules = self._page, self._part, self.schedules
        return [
            Route("/", self._to_console, methods=["GET", "HEAD"]),
            Route(PREFIX, self._to_console, methods=["GET", "HEAD"]),
            Route(f"{PREFIX}/", self._to_incidents, methods=["GET", "HEAD"]),
            Route(f"{PREFIX}/sign-in", self.sign_in_page, methods=["GET"]),
            Route(f"{PREFIX}/sign-in", self.sign_in, methods=["POST"]),
            Route(f"{PREFIX}/sign-out", self.sign_out, methods=["POST"]),
            Route(f"{PREFIX}/links/{{token}}", self.follow_link, methods=["GET"]),
            Route(f"{PREFIX}/incidents", page(self.incidents)),
            Route(f"{PREFIX}/live/incidents", part(self.incident_rows)),
            Route(f"{PREFIX}/incidents/{{incident_id}}", page(self.incident)),
            Route(f"{PREFIX}/live/incidents/{{incident_id}}", part(self.incident_live)),
            Route(f"{PREFIX}/incidents/{{incident_id}}/{{action}}", page(self.act), methods=["POST"]),
            Route(f"{PREFIX}/oncall", page(schedules.oncall)),
            Route(f"{PREFIX}/schedules/{{schedule_id}}.ics", page(schedules.feed)),
            Route(f"{PREFIX}/schedules/{{schedule_id}}", page(schedules.schedule)),
            Route(f"{PREFIX}/schedules/{{schedule_id}}/overrides", page(schedules.add_override), methods=["POST"]),
            Route(f"{PREFIX}/policies", page(schedules.policies)),
            Mount(f"{PREFIX}/static", StaticFiles(packages=[("tocsin.server.console", "static")]), name="static"),
        ]

    # --- signing in and out --------------------------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        """GET /ui/sign-in: the token form (a session already signed in goes on to the console)."""
        session = self.web.session(request)
        if session.signed_in and not self.web.sessions.open:
            return redirect(self._next(request.query_params.get("next")))
        return self.web.render(request, "sign_in.html", session, next=self._next(request.query_params.get("next")))

    async def sign_in(self, request: Request) -> Response:
        """POST /ui/sign-in: a token that the config knows starts a session (with a new CSRF token)."""
        session = self.web.session(request)
        try:
            form = await self.web.form(request, session)
        except ApiError as exc:
            return self.web.error(request, session, exc.status, exc.message)
        acting_as = form.get("acting_as", "").strip()[:200] or None
        signed = self.web.sessions.sign_in(form.get("token", ""), acting_as)
        if signed is None:
            return self.web.render(
                request, "sign_in.html", session, status=401, next=self._next(form.get("next")), failed=True
            )
        response = redirect(self._next(form.get("next")))
        self.web.keep(response, signed)
        return response

    async def sign_out(self, request: Request) -> Response:
        """POST /ui/sign-out: the session ends (its cookie is replaced by an anonymous one)."""
        session = self.web.session(request)
        try:
            await self.web.form(request, session)
        except ApiError as exc:
            return self.web.error(request, session, exc.status, exc.message)
        response = redirect(f"{self.web.prefix}/sign-in")
        self.web.keep(response, self.web.sessions.anonymous())
        return response

    async def follow_link(self, request: Request) -> Response:
        """GET /ui/links/{token}: a page's link (its "Open in tocsin", or any of its action links) signs its
        recipient in with the respond scope until the link expires, and opens the incident. Nothing is acted on:
        an action link followed here stays unused. A session that may already act is kept as it is."""
        session = self.web.session(request)
        links = self.service.links
        if links is None:
            return self._link_refused(
                request, session, 404, "this tocsin makes no links (server.public_url is not set)"
            )
        try:
            claim = links.read(request.path_params["token"])
        except BadLink as exc:
            return self._link_refused(request, session, 404, str(exc))
        except ExpiredLink as exc:
            return self._link_refused(request, session, 410, f"{exc}; or sign in with an API token")
        response = redirect(f"{self.web.prefix}/incidents/{quote(escalation_incident(claim.escalation_id), safe='')}")
        response.headers["Referrer-Policy"] = "no-referrer"
        if not session.may(Scope.RESPOND):
            self.web.keep(response, self.web.sessions.through_link(request.path_params["token"], claim))
            _log.info("signed in through a link", recipient=claim.recipient, link=claim.token_id)
        return response

    def _link_refused(self, request: Request, session: Session, status: int, message: str) -> Response:
        response = self.web.error(request, session, status, message)
        response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the link
        return response

    # --- incidents -----------------------------------------------------------------------------------------

    def _rows(self, request: Request) -> tuple[IncidentFilter, list[str], dict[str, Any]]:
        wanted, faults = IncidentFilter.from_query(request.query_params)
        offset = request.query_params.get("offset", "0")
        page = list_rows(self.service, wanted, offset=int(offset) if offset.isdigit() else 0)
        return wanted, faults, {"page": page, "wanted": wanted}

    async def incidents(self, request: Request, session: Session) -> Response:
        """GET /ui/incidents: the list, filtered and paged; the rows refresh themselves."""
        _, faults, rows = self._rows(request)
        policies = [policy.id for policy in self.service.config.policies]
        return self.web.render(
            request, "incidents.html", session, statuses=STATUSES, policies=policies, faults=faults, **rows
        )

    async def incident_rows(self, request: Request, session: Session) -> Response:
        """GET /ui/live/incidents: the list's rows alone, for the page to swap in."""
        _, _, rows = self._rows(request)
        return self.web.render(request, "_incident_rows.html", session, **rows)

    def _incident(self, incident_id: str, session: Session) -> dict[str, Any]:
        service = self.service
        detail = service.incident(incident_id)  # as the API answers it: pages without contact details
        timeline = service.timeline(incident_id)  # the very timeline GET /v1/incidents/{id}/timeline answers
        scope = session.principal.scope if session.principal is not None else None
        actions = [action for action in ACTIONS if action.shown(detail, scope)]
        choices = {
            f"{action.name}.{field.name}": field.choices(service)
            for action in actions
            for field in action.fields
            if field.choices is not None
        }
        levels = detail.escalation.policy.levels if detail.escalation is not None else ()
        steps = [[describe_target(target) for target in level.targets] for level in levels]
        escalations = {entry.escalation_id for entry in timeline.entries if entry.escalation_id is not None}
        return {
            "detail": detail,
            "timeline": timeline.entries,
            "several": len(escalations) > 1,  # a reassignment started another: entries say which one
            "actions": actions,
            "choices": choices,
            "steps": steps,
        }

    async def incident(self, request: Request, session: Session) -> Response:
        """GET /ui/incidents/{id}: fields, labels, matched rules, the policy's levels, timeline and actions."""
        incident_id = request.path_params["incident_id"]
        context = self._incident(incident_id, session)
        routed = await self.service.evaluate(self.service.incident(incident_id).incident, explain=False)
        done = action_named(request.query_params.get("done", ""))
        return self.web.render(
            request, "incident.html", session, routed=routed, done=done.done if done else None, **context
        )

    async def incident_live(self, request: Request, session: Session) -> Response:
        """GET /ui/live/incidents/{id}: the incident's changing part (status, levels, actions, timeline)."""
        context = self._incident(request.path_params["incident_id"], session)
        return self.web.render(request, "_incident_live.html", session, **context)

    async def act(self, request: Request, session: Session) -> Response:
        """POST /ui/incidents/{id}/{action}: run the action through the service, then back to the incident."""
        incident_id = request.path_params["incident_id"]
        form = await self.web.form(request, session)
        action = action_named(request.path_params["action"])
        if action is None:
            raise ApiError(404, f"no action {request.path_params['action']!r}")
        principal = session.principal
        if principal is None or not principal.scope.allows(action.scope):
            having = principal.scope.value if principal is not None else "none"
            raise ApiError(403, f"signed in with scope {having}; {action.label.lower()} needs {action.scope.value}")
        service = self.service
        try:
            await action.run(service, incident_id, session.actor, form)
        except (ApiError, EscalationError, StaleStateError) as exc:
            failure = exc if isinstance(exc, ApiError) else api_error(exc)
            if failure.status == 404:
                raise failure from None
            context = self._incident(incident_id, session)
            routed = await service.evaluate(service.incident(incident_id).incident, explain=False)
            return self.web.render(
                request,
                "incident.html",
                session,
                status=failure.status,
                failed="; ".join(failure_lines(failure)),
                routed=routed,
                **context,
            )
        return redirect(f"{self.web.prefix}/incidents/{quote(incident_id, safe='')}", {"done": action.name})

    # --- guards --------------------------------------------------------------------------------------------

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for a signed-in visitor; others are sent to the sign-in page."""

        async def page(request: Request) -> Response:
            session = self.web.session(request)
            if not session.signed_in:
                if request.method != "GET":
                    return self.web.error(request, session, 401, "your session has ended: sign in again")
                return redirect(f"{self.web.prefix}/sign-in", {"next": self.web.base + request.url.path})
            return await self._answer(request, session, handler)

        return page

    def _part(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for a part a page refreshes: 401 without a session (the page then reloads)."""

        async def part(request: Request) -> Response:
            session = self.web.session(request)
            if not session.signed_in:
                return Response("sign in again", status_code=401, media_type="text/plain")
            return await self._answer(request, session, handler)

        return part

    async def _answer(self, request: Request, session: Session, handler: Handler) -> Response:
        try:
            return await retry_while_busy(lambda: handler(request, session), seconds=self.service.lock_wait)
        except ApiError as exc:
            return self.web.error(request, session, exc.status, exc.message, exc.headers)
        except (EscalationError, StaleStateError) as exc:
            failure = api_error(exc)
            return self.web.error(request, session, failure.status, failure.message)
        except StoreError as exc:
            _log.error("store failed; page not served", path=request.url.path, reason=str(exc))
            return self.web.error(
                request, session, 503, f"the store failed; nothing was changed, retry shortly ({exc})"
            )
        except Exception:
            _log.exception("page failed", path=request.url.path)
            return self.web.error(request, session, 500, "internal error: the page could not be made")

    # --- addresses ---------------------------------------------------------------------------------------------

    async def _to_console(self, request: Request) -> Response:
        return RedirectResponse(f"{self.web.prefix}/", status_code=307)

    async def _to_incidents(self, request: Request) -> Response:
        return RedirectResponse(f"{self.web.prefix}/incidents", status_code=307)

    def _next(self, path: str | None) -> str:
        """Where to go after signing in: a console path, never another site."""
        prefix = self.web.prefix
        if path and path.startswith(f"{prefix}/") and not path.startswith("//") and "\\" not in path:
            return path
        return f"{prefix}/incidents"
