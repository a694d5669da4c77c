"""The config: ``POST /v1/config/reload`` reads the config file again and takes it, or changes nothing."""

from __future__ import annotations

from tocsin.config.serving import Scope
from tocsin.server.endpoints import Call, Endpoint
from tocsin.server.errors import ApiError
from tocsin.server.reload import ReloadRefused
from tocsin.server.views import ConfigReloaded, ProblemDetail

__all__ = ["ENDPOINTS"]


async def reload_config(call: Call) -> ConfigReloaded:
    """POST /v1/config/reload."""
    try:
        return call.service.reload(by=call.actor)
    except ReloadRefused as exc:
        details = tuple(
            ProblemDetail(location=issue.file, path=issue.path, message=issue.message) for issue in exc.issues
        )
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        message = f"the config was not reloaded, nothing changed: {exc.issues[0]}{more}"
        raise ApiError(422, message, details=details) from None


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path="/v1/config/reload",
        handler=reload_config,
        summary="Reload the config file",
        description=(
            "Reads the file the server was started with again (as SIGHUP does). The new config is loaded and "
            "checked whole first: on any fault nothing changes and the answer (422) lists every fault, each "
            "with the file in `location` and its JSONPath. On success it replaces the config in force at "
            "once: new incidents use the new rules and policies, escalations in flight keep their policy "
            "snapshot, and levels that fire from now on use the new teams, people and schedules. `storage`, "
            "`channels`, `delivery` and `server.auth` need a restart (changing them is a fault). 409 when the "
            "server was not started from a file."
        ),
        tag="config",
        scope=Scope.ADMIN,
        response=ConfigReloaded,
        errors=(409, 422),
    ),
)
