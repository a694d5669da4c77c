"""Routing action ``assign {assignees}``: add people to the incident's assignees, each only once."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, FieldError, hookimpl


def _assignees(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "needs at least one assignee")
    for person in value:
        if not isinstance(person, str) or not person:
            raise FieldError(attribute.name, f"assignees must be non-empty strings, got {person!r}")


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        raise FieldError("assignees", f"expected a list of assignees, got {value!r}")
    return tuple(value)


@attrs.frozen(kw_only=True)
class Assign:
    """Assign the incident to ``assignees`` (appended after the current ones, no duplicates)."""

    type: ClassVar[str] = "assign"
    assignees: tuple[str, ...] = attrs.field(converter=_as_tuple, validator=_assignees)


def apply(action: Assign, ctx: ActionContext) -> None:
    """Append the assignees the incident does not have yet."""
    current = ctx.incident.assignees
    added = tuple(dict.fromkeys(person for person in action.assignees if person not in current))
    if not added:
        ctx.ignored(f"already assigned to {', '.join(action.assignees)}")
        return
    ctx.replace(assignees=current + added)
    ctx.applied(f"assigned {', '.join(added)}")


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``assign``."""
    register(Assign, apply=apply)
