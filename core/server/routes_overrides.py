"""Overrides and swaps made at run time: ``/v1/schedules/{schedule_id}/overrides`` and ``.../swaps``.

They are stored in the store (never in the config file), so every instance sees them, and they count in every
on-call answer, shift list, gap report and calendar feed, and when a level pages the schedule. See
:mod:`tocsin.escalation.overrides` for the rules (no changing the past; people the config knows).
"""

from __future__ import annotations

from datetime import datetime

from tocsin.config.serving import Scope
from tocsin.errors import ConfigError
from tocsin.server.endpoints import Call, Endpoint, QueryParam
from tocsin.server.errors import from_config_error
from tocsin.server.override_entries import override_entries
from tocsin.server.views import (
    OverrideList,
    OverrideRemoved,
    OverrideRequest,
    SwapAnswer,
    SwapRequest,
)
from tocsin.store.records import ScheduleOverride

__all__ = ["ENDPOINTS"]

_BODY_ERRORS = (400, 404, 408, 413, 422)


async def list_overrides(call: Call) -> OverrideList:
    """GET /v1/schedules/{schedule_id}/overrides."""
    service = call.service
    resolver = service.schedule(call.path("schedule_id"))
    at, until = call.params.get("start"), call.params.get("end")
    start = resolver.localize(at if at is not None else service.clock.now())
    end = resolver.localize(until) if until is not None else None
    entries = override_entries(resolver, service.overrides, start, end)
    return OverrideList(schedule=resolver.schedule.id, start=start, end=end, overrides=entries)


async def create_override(call: Call) -> ScheduleOverride:
    """POST /v1/schedules/{schedule_id}/overrides."""
    schedule_id = call.service.schedule(call.path("schedule_id")).schedule.id  # 404 whatever the body says
    request: OverrideRequest = await call.body()
    return await call.service.add_override(schedule_id, request, call.actor)


async def delete_override(call: Call) -> OverrideRemoved:
    """DELETE /v1/schedules/{schedule_id}/overrides/{override_id}."""
    service = call.service
    schedule_id = service.schedule(call.path("schedule_id")).schedule.id
    override_id = call.path("override_id")
    found, deleted = await service.commits.run(lambda: service.overrides.remove(schedule_id, override_id))
    service.record(
        "override.removed", schedule_id, call.actor, override=override_id, deleted=deleted, end=found.end.isoformat()
    )
    return OverrideRemoved(override=found, deleted=deleted)


async def create_swap(call: Call) -> SwapAnswer:
    """POST /v1/schedules/{schedule_id}/swaps."""
    service = call.service
    resolver = service.schedule(call.path("schedule_id"))
    request: SwapRequest = await call.body()
    by = request.by or call.actor

    def swap() -> tuple[ScheduleOverride, ScheduleOverride]:
        return service.overrides.swap(
            resolver,
            request.first,
            request.second,
            layer=request.layer,
            note=request.note,
            by=by,
            people=service.loaded.people,
        )

    try:
        made = await service.commits.run(swap)
    except ConfigError as exc:
        raise from_config_error(exc) from None
    swap_id = made[0].swap_id or ""
    service.record(
        "swap.created",
        resolver.schedule.id,
        by,
        swap=swap_id,
        overrides=[override.id for override in made],
        first=request.first.user,
        second=request.second.user,
    )
    return SwapAnswer(schedule=resolver.schedule.id, swap_id=swap_id, overrides=made)


_PATH = "/v1/schedules/{schedule_id}/overrides"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path=_PATH,
        handler=list_overrides,
        summary="The overrides of a schedule",
        description=(
            "The config's overrides and those made at run time that are in force at some time from `start` "
            "(default: now) on, until `end` when given."
        ),
        tag="schedules",
        scope=Scope.READ,
        response=OverrideList,
        query=(
            QueryParam(name="start", kind=datetime, description="from when, ISO 8601 (default: now)"),
            QueryParam(name="end", kind=datetime, description="until when, ISO 8601 (default: no end)"),
        ),
        errors=(404, 422),
    ),
    Endpoint(
        method="POST",
        path=_PATH,
        handler=create_override,
        summary="Put someone on call instead",
        description=(
            "`user` is on call from `start` (default: now) until `end`, instead of whoever the schedule says "
            "(for `layer` only, when given). Stored in the store, not the config file; where it overlaps "
            "another override, the one made later wins. 422 naming the field when `end` is not after `start`, "
            "`start` is in the past, `user` is not a person the config knows, or `layer` is unknown; 409 when "
            "an `id` given is taken (a retry of a request that was made)."
        ),
        tag="schedules",
        scope=Scope.RESPOND,
        response=ScheduleOverride,
        status=201,
        body=OverrideRequest,
        errors=(*_BODY_ERRORS, 409),
    ),
    Endpoint(
        method="DELETE",
        path=_PATH + "/{override_id}",
        handler=delete_override,
        summary="Remove an override made at run time",
        description=(
            "One that has not started is deleted; one that is running ends now (what already happened stays). "
            "409 when it has ended: past overrides are immutable. The config's overrides are changed in the "
            "config file."
        ),
        tag="schedules",
        scope=Scope.RESPOND,
        response=OverrideRemoved,
        errors=(404, 409),
    ),
    Endpoint(
        method="POST",
        path="/v1/schedules/{schedule_id}/swaps",
        handler=create_swap,
        summary="Swap two shifts",
        description=(
            "`second.user` takes `first`'s shift and `first.user` takes `second`'s, stored as those two "
            "overrides (sharing a `swap_id`), each for the layer its shift is held on. 422 naming the field "
            "when a shift is in the past or ends before it starts, a person is not one the config knows, both "
            "are the same person, or someone does not hold the whole shift they give away."
        ),
        tag="schedules",
        scope=Scope.RESPOND,
        response=SwapAnswer,
        status=201,
        body=SwapRequest,
        errors=_BODY_ERRORS,
    ),
)
