"""Maintenance windows: make one (``POST /v1/maintenance``), list them, end one early. While a window is open,
incidents it matches are stored, marked ``suppressed: maintenance``, and page nobody; see
:mod:`tocsin.intake.maintenance`."""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.intake.maintenance import UnknownWindowError, WindowClosedError
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.errors import ApiError, invalid
from tocsin.server.views import MaintenanceEnded, MaintenanceList, MaintenanceRequest
from tocsin.store.errors import StaleStateError
from tocsin.store.records import MaintenanceWindow, new_id
from tocsin.validators import parse_duration

__all__ = ["ENDPOINTS"]


async def list_maintenance(call: Call) -> MaintenanceList:
    """GET /v1/maintenance."""
    service = call.service
    return MaintenanceList(windows=tuple(service.loaded.maintenance.upcoming(service.clock.now())))


async def create_maintenance(call: Call) -> MaintenanceWindow:
    """POST /v1/maintenance."""
    service = call.service
    request: MaintenanceRequest = await call.body()
    now = service.clock.now()
    start = request.start if request.start is not None else now
    if request.end is not None:
        end = request.end
    else:
        assert request.duration is not None  # the request has exactly one of the two
        end = start + parse_duration(request.duration)
    faults = []
    if end <= start:
        faults.append(("$.end", f"must be after start ({start.isoformat()})"))
    elif end <= now:
        faults.append(("$.end", f"is in the past (now is {now.isoformat()}): the window would hold nothing"))
    if faults:
        raise invalid(faults)
    window = MaintenanceWindow(
        id=request.id or new_id(),
        start=start,
        end=end,
        match=request.match,
        on_end=request.on_end,
        reason=request.reason,
        created_by=request.by or call.actor,
        created_at=now,
    )
    try:
        await service.commits.run(lambda: service.loaded.maintenance.add(window))
    except StaleStateError:
        raise ApiError(409, f"a maintenance window with id {window.id!r} exists already") from None
    service.record(
        "maintenance.created",
        window.id,
        window.created_by,
        start=start.isoformat(),
        end=end.isoformat(),
        on_end=window.on_end.value,
        reason=window.reason,
    )
    return window


async def end_maintenance(call: Call) -> MaintenanceEnded:
    """POST /v1/maintenance/{window_id}/end."""
    service = call.service
    window_id = call.path("window_id")
    gate = service.loaded.maintenance
    try:
        window, released = await service.commits.run(lambda: gate.end(window_id, service.engine, call.actor))
    except UnknownWindowError as exc:
        raise ApiError(404, str(exc)) from None
    except WindowClosedError as exc:
        raise ApiError(409, str(exc)) from None
    service.record("maintenance.ended", window.id, call.actor, released=released)
    return MaintenanceEnded(window=window, released=tuple(released))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="GET",
        path="/v1/maintenance",
        handler=list_maintenance,
        summary="The maintenance windows open now or to come",
        description=(
            "Those made through the API, and the current or next occurrence of each config window "
            "(`source: config`, its id `NAME@START`), by start."
        ),
        tag="maintenance",
        scope=Scope.READ,
        response=MaintenanceList,
    ),
    Endpoint(
        method="POST",
        path="/v1/maintenance",
        handler=create_maintenance,
        summary="Open a maintenance window",
        description=(
            "From `start` (default: now) until `end`, or for `duration` (`30m`, `2h`): incidents `match` takes "
            "(labels, source, integration; none given: every incident) that arrive meanwhile are stored, "
            "marked `suppressed: maintenance`, and page nobody. When the window ends those still open start "
            "escalating (`on_end: escalate`, the default) or never page (`drop`). 422 naming the field when "
            "both or neither of `end` and `duration` are given, or the window would end before it starts or "
            "in the past; 409 when an `id` given is taken."
        ),
        tag="maintenance",
        scope=Scope.RESPOND,
        response=MaintenanceWindow,
        status=201,
        body=MaintenanceRequest,
        errors=(400, 408, 409, 413, 422),
    ),
    Endpoint(
        method="POST",
        path="/v1/maintenance/{window_id}/end",
        handler=end_maintenance,
        summary="End a maintenance window now",
        description=(
            "A window made through the API, or the open occurrence of a config window (by its id or the "
            "window's name). The escalations it held (`on_end: escalate`) begin now. 404 when no such window "
            "is open; 409 when it has closed."
        ),
        tag="maintenance",
        scope=Scope.RESPOND,
        response=MaintenanceEnded,
        errors=(404, 409),
    ),
)
