"""User target ``{type: user, email}``: page one person, through their contacts (default: the log channel)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from tocsin import ExpandContext, FieldError, Recipient, TargetRegistrar, Urgency, hookimpl


def _address(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(attribute.name, f"needs an address, got {value!r}")


@attrs.frozen(kw_only=True)
class UserTarget:
    """One person, by address, paged at ``urgency`` (high or low)."""

    type: ClassVar[str] = "user"
    email: str = attrs.field(validator=_address)
    urgency: Urgency = attrs.field(default=Urgency.HIGH, converter=Urgency)


def expand(target: UserTarget, ctx: ExpandContext) -> list[Recipient]:
    """The person's recipients (one per contact)."""
    return ctx.person(target.email, target="user")


@hookimpl
def tocsin_register_targets(register: TargetRegistrar) -> None:
    """Register ``user``."""
    register(UserTarget, expand=expand)
