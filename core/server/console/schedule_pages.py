"""The console's pages about who is paged: on call now, a schedule's two weeks (and the override form on it), its
iCalendar feed, and the policies. Every answer counts the overrides made at run time, as the API's do, and an
override made from the calendar goes through the very service method behind
``POST /v1/schedules/{id}/overrides``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from tocsin.config.serving import Scope
from tocsin.schedules.resolver import ScheduleResolver
from tocsin.server.console.actions import Choice, Options
from tocsin.server.console.calendar import DAYS, calendar, oncall_at, oncall_now
from tocsin.server.console.chains import chains
from tocsin.server.console.session import Session
from tocsin.server.console.web import Web, checked, failure_lines, redirect
from tocsin.server.errors import ApiError
from tocsin.server.guards import parse_instant
from tocsin.server.service import Service
from tocsin.server.views import OverrideRequest

__all__ = ["SchedulePages"]

FEED_DAYS = 30  # the console's iCal link: the next 30 days (the API's feed default)


class SchedulePages:
    """On call now, a schedule, its feed, making an override, and the policies, for one service."""

    def __init__(self, service: Service, web: Web) -> None:
        self.service = service
        self.web = web

    async def oncall(self, request: Request, session: Session) -> Response:
        """GET /ui/oncall: every schedule with who is on call now and after the next handoff."""
        now = self.service.clock.now()
        made = self.service.overrides
        answers = [oncall_now(resolver, made, now) for resolver in self.service.schedules.values()]
        return self.web.render(request, "oncall.html", session, answers=answers)

    async def schedule(self, request: Request, session: Session) -> Response:
        """GET /ui/schedules/{id}: two weeks of layers, overrides and coverage, and who is on call at a time."""
        resolver = self.service.schedule(request.path_params["schedule_id"])
        faults: list[str] = []
        first = _week(request.query_params.get("start"), faults)
        asked, at = request.query_params.get("at", ""), None
        if asked:
            try:
                at = resolver.localize(parse_instant(asked, query=True))
            except ValueError as exc:
                faults.append(f"at: {exc}")
        done = request.query_params.get("done") == "override"
        return self._page(request, session, resolver, first, faults=faults, asked=asked, at=at, done=done)

    async def add_override(self, request: Request, session: Session) -> Response:
        """POST /ui/schedules/{id}/overrides: the form's override made through the service (as the API makes
        it), then back to its two weeks; what the service refuses is shown on the page with the form kept."""
        service = self.service
        resolver = service.schedule(request.path_params["schedule_id"])
        form = await self.web.form(request, session)
        if not session.may(Scope.RESPOND):
            raise ApiError(403, "signed in with scope read; making an override needs respond")
        first = _week(form.get("week"), [])
        try:
            override = _override(resolver, form)
            made = await service.add_override(resolver.schedule.id, override, session.actor)
        except ApiError as exc:
            if exc.status == 404:
                raise
            failed = failure_lines(exc)
            return self._page(request, session, resolver, first, status=exc.status, failed=failed, form=form)
        week = resolver.localize(made.start).date()
        target = f"{self.web.prefix}/schedules/{quote(resolver.schedule.id, safe='')}"
        return redirect(target, {"start": (week - timedelta(days=week.weekday())).isoformat(), "done": "override"})

    async def feed(self, request: Request, session: Session) -> Response:
        """GET /ui/schedules/{id}.ics: the schedule's iCalendar feed for the next 30 days (as the API's)."""
        service = self.service
        resolver = service.schedule(request.path_params["schedule_id"])
        low, high = service.span(resolver, None, None, timedelta(days=FEED_DAYS))
        feed = service.overrides.merged(resolver, low, high).to_ical(low, high, stamp=service.clock.now())
        return Response(feed, media_type="text/calendar; charset=utf-8")

    async def policies(self, request: Request, session: Session) -> Response:
        """GET /ui/policies: each policy as a chain of levels, and the rules that choose it."""
        return self.web.render(request, "policies.html", session, chains=chains(self.service.config))

    def _page(
        self,
        request: Request,
        session: Session,
        resolver: ScheduleResolver,
        first: date | None,
        *,
        status: int = 200,
        faults: Sequence[str] = (),
        failed: Sequence[str] = (),
        form: Mapping[str, str] | None = None,
        asked: str = "",
        at: datetime | None = None,
        done: bool = False,
    ) -> Response:
        service = self.service
        if first is None:  # the two weeks from this Monday
            today = resolver.localize(service.clock.now()).date()
            first = today - timedelta(days=today.weekday())
        return self.web.render(
            request,
            "schedule.html",
            session,
            status=status,
            resolver=resolver,
            cal=calendar(resolver, service.plugins.registry, first, service.overrides),
            previous=first - timedelta(days=DAYS),
            following=first + timedelta(days=DAYS),
            at=at,
            asked=asked,
            oncall_at=oncall_at(resolver, service.overrides, at) if at is not None else None,
            faults=faults,
            failed=failed,
            done=done,
            form=form or {},
            may_override=session.may(Scope.RESPOND),
            people=_people(resolver, service.loaded.people),
        )


def _week(text: str | None, faults: list[str]) -> date | None:
    """The first day of the two weeks ``text`` names (None: this week's Monday); a fault when it is no date."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        faults.append(f"start {text!r} is not a date (YYYY-MM-DD)")
        return None


def _override(resolver: ScheduleResolver, form: Mapping[str, str]) -> OverrideRequest:
    """The override the form asks for (its times in the schedule's zone; no start: from now), checked as the API
    checks a request; 422 naming the field."""
    times: dict[str, datetime | None] = {}
    for name in ("start", "end"):
        text = form.get(name, "").strip()
        if not text:
            if name == "end":
                raise ApiError(422, "end: needed (until when the override lasts)")
            times[name] = None
            continue
        try:
            times[name] = resolver.localize(parse_instant(text, query=True))
        except ValueError as exc:
            raise ApiError(422, f"{name}: {exc}") from None
    end = times["end"]
    assert end is not None
    return checked(
        OverrideRequest,
        user=form.get("user", "").strip(),
        start=times["start"],
        end=end,
        layer=form.get("layer") or None,
        note=form.get("note", "").strip(),
    )


def _people(resolver: ScheduleResolver, people: frozenset[str]) -> Options:
    """Whom an override may put on call: the schedule's own people first, then everyone else the config knows."""
    own = sorted({user for layer in resolver.schedule.layers for user in layer.people})
    others = sorted(people.difference(own))
    return (
        ("This schedule", tuple(Choice(value=user, label=user) for user in own)),
        ("Everyone else", tuple(Choice(value=user, label=user) for user in others)),
    )
