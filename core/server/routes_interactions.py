"""``POST /v1/<channel>/interactions``: where a channel's service calls back when someone acts on a message (a
Slack button), one endpoint for each channel plugin that registered ``interactions=handler``.

The handler verifies the request (its service's signature), maps who acted to a tocsin user and acts through
the server's :class:`~tocsin.server.responder.PageResponder`; a request it refuses is answered with the status it
names (401 for a bad, stale or replayed signature) and changes nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tocsin.delivery.channels import ChannelError
from tocsin.registry import Registry
from tocsin.responding import InboundRequest, InteractionRefused
from tocsin.server.endpoints import Call, Endpoint, Handler
from tocsin.server.errors import ApiError

__all__ = ["interaction_endpoints"]


def _handler(channel: str, handle: Any) -> Handler:
    async def receive(call: Call) -> Response:
        service = call.service
        try:
            settings = service.engine.outbox.channels.settings_for(channel)
        except ChannelError as exc:
            raise ApiError(404, f"{exc}: it takes no callbacks until then") from None
        request = InboundRequest(
            headers={name.lower(): value for name, value in call.request.headers.items()},
            body=await call.raw(),
            now=service.clock.now(),
        )
        try:
            answer = await handle(request, settings, service.responder)
        except InteractionRefused as exc:
            raise ApiError(exc.status, f"{channel}: {exc.message}") from None
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    receive.__name__ = receive.__qualname__ = f"{channel}_interactions"
    return receive


def interaction_endpoints(registry: Registry) -> list[Endpoint]:
    """One endpoint for each registered channel with an interactions handler."""
    return [
        Endpoint(
            method="POST",
            path=f"/v1/{entry.name}/interactions",
            handler=_handler(entry.name, entry.value.interactions),
            summary=f"Callbacks from {entry.name} when someone acts on a message",
            description=(
                f"Where {entry.name} sends what someone did with a message's buttons. The request is checked "
                f"with {entry.name}'s own signature (401 when it is missing, wrong, stale or replayed; nothing "
                "changes), the person is mapped to a tocsin user, and the action is taken in one transaction. "
                f"404 when the config has no channels.{entry.name} section."
            ),
            tag="interactions",
            scope=None,
            errors=(400, 401, 403, 404, 408, 413),
        )
        for entry in registry.channels
        if entry.value.interactions is not None
    ]
