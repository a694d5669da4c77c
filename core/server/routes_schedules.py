"""On-call schedules: who is on call at an instant, the final shifts and the gaps over a range, an iCalendar
feed. Every answer counts the overrides made at run time (see :mod:`.routes_overrides`) after the config's.

Times without a UTC offset are read as the schedule's local time (as ``tocsin oncall`` does); answers carry
the offset in force.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.responses import Response

from tocsin.config.serving import Scope
from tocsin.models import OnCallSchedule
from tocsin.schedules.resolver import ScheduleResolver
from tocsin.server.endpoints import Call, Endpoint, QueryParam
from tocsin.server.views import GapList, OnCallAnswer, ScheduleList, ShiftList

__all__ = ["ENDPOINTS"]

SHIFTS_SPAN = timedelta(days=7)  # /shifts without ``end``
FEED_SPAN = timedelta(days=30)  # the .ics feed without ``end``

_RANGE = (
    QueryParam(name="start", kind=datetime, description="range start, ISO 8601 (default: now)"),
    QueryParam(name="end", kind=datetime, description="range end, ISO 8601 (at most 366 days after start)"),
)


async def list_schedules(call: Call) -> ScheduleList:
    """GET /v1/schedules."""
    return ScheduleList(schedules=tuple(call.service.config.schedules))


async def get_schedule(call: Call) -> OnCallSchedule:
    """GET /v1/schedules/{schedule_id}."""
    return call.service.schedule(call.path("schedule_id")).schedule


async def get_oncall(call: Call) -> OnCallAnswer:
    """GET /v1/schedules/{schedule_id}/oncall."""
    service = call.service
    resolver = service.schedule(call.path("schedule_id"))
    at = call.params.get("at")
    instant = resolver.localize(at if at is not None else service.clock.now())
    merged = service.overrides.merged(resolver, instant)
    return OnCallAnswer(schedule=resolver.schedule.id, at=instant, oncall=tuple(merged.oncall_at(instant)))


def _range(call: Call, default: timedelta) -> tuple[ScheduleResolver, datetime, datetime]:
    """The schedule with its run-time overrides over the query's range, and the range."""
    service = call.service
    resolver = service.schedule(call.path("schedule_id"))
    low, high = service.span(resolver, call.params.get("start"), call.params.get("end"), default)
    return service.overrides.merged(resolver, low, high), low, high


async def get_shifts(call: Call) -> ShiftList:
    """GET /v1/schedules/{schedule_id}/shifts."""
    resolver, low, high = _range(call, SHIFTS_SPAN)
    return ShiftList(schedule=resolver.schedule.id, start=low, end=high, shifts=tuple(resolver.shifts(low, high)))


async def get_gaps(call: Call) -> GapList:
    """GET /v1/schedules/{schedule_id}/gaps."""
    resolver, low, high = _range(call, SHIFTS_SPAN)
    return GapList(schedule=resolver.schedule.id, start=low, end=high, gaps=tuple(resolver.gaps(low, high)))


async def get_calendar(call: Call) -> Response:
    """GET /v1/schedules/{schedule_id}.ics."""
    resolver, low, high = _range(call, FEED_SPAN)
    feed = resolver.to_ical(low, high, stamp=call.service.clock.now())
    return Response(feed, media_type="text/calendar; charset=utf-8")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/v1/schedules",
        handler=list_schedules,
        summary="The on-call schedules",
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=ScheduleList,
    ),
    # Before /v1/schedules/{schedule_id}: that one would take "primary.ics" for an id.
    Endpoint(
        method="GET",
        path="/v1/schedules/{schedule_id}.ics",
        handler=get_calendar,
        summary="An iCalendar feed of the final shifts",
        description="One event per shift from start (default: now) to end (default: 30 days later).",
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        media_type="text/calendar",
        query=_RANGE,
        errors=(404, 422),
    ),
    Endpoint(
        method="GET",
        path="/v1/schedules/{schedule_id}",
        handler=get_schedule,
        summary="One schedule as configured",
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=OnCallSchedule,
        errors=(404,),
    ),
    Endpoint(
        method="GET",
        path="/v1/schedules/{schedule_id}/oncall",
        handler=get_oncall,
        summary="Who is on call at an instant",
        description=(
            "Every layer's user at `at` (default: now) after restrictions, resolution and overrides (the "
            "config's, and those made at run time)."
        ),
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=OnCallAnswer,
        query=(QueryParam(name="at", kind=datetime, description="the instant, ISO 8601 (default: now)"),),
        errors=(404, 422),
    ),
    Endpoint(
        method="GET",
        path="/v1/schedules/{schedule_id}/shifts",
        handler=get_shifts,
        summary="The final shifts over a range",
        description="Shifts from start (default: now) to end (default: 7 days later), adjacent ones merged.",
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=ShiftList,
        query=_RANGE,
        errors=(404, 422),
    ),
    Endpoint(
        method="GET",
        path="/v1/schedules/{schedule_id}/gaps",
        handler=get_gaps,
        summary="The stretches with nobody on call over a range",
        description="Gaps from start (default: now) to end (default: 7 days later), overrides (those made at run "
        "time too) counted: where the schedule's fallback, if any, is paged.",
        tag="schedules",
        scope=Scope.READ,
        refuse_unknown_query=True,
        response=GapList,
        query=_RANGE,
        errors=(404, 422),
    ),
)
