"""Routing action ``notify {channels}``: ask for a message on each channel (``#ops``, a webhook name …).

The channels are collected into ``RoutingResult.notify_channels`` (each once, in order); delivering them is
the caller's job, and a ``suppress`` holds them back like any other notification.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, FieldError, hookimpl


def _channels(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "needs at least one channel")
    for channel in value:
        if not isinstance(channel, str) or not channel:
            raise FieldError(attribute.name, f"channel names must be non-empty strings, got {channel!r}")


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        raise FieldError("channels", f"expected a list of channel names, got {value!r}")
    return tuple(value)


@attrs.frozen(kw_only=True)
class Notify:
    """Notify ``channels`` about the incident."""

    type: ClassVar[str] = "notify"
    channels: tuple[str, ...] = attrs.field(converter=_as_tuple, validator=_channels)


def apply(action: Notify, ctx: ActionContext) -> None:
    """Add the channels not already asked for by an earlier action."""
    added = ctx.add_to_output("notify_channels", action.channels)
    repeated = [channel for channel in action.channels if channel not in added]
    if added:
        note = f" ({', '.join(repeated)} already asked for)" if repeated else ""
        ctx.applied(f"notify {', '.join(added)}{note}")
    else:
        ctx.ignored(f"{', '.join(repeated)} already asked for by an earlier action")


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``notify``."""
    register(Notify, apply=apply)
