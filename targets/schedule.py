"""Schedule target ``{type: schedule, schedule_id}``: page whoever is on call when the level fires.

Nobody on call is an explicit answer: the schedule's ``fallback`` target is paged instead when it has one,
and an ``unresolved`` entry is journalled either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import attrs

from tocsin import Config, ExpandContext, FieldError, Recipient, TargetRegistrar, Urgency, hookimpl


def _schedule_id(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise FieldError(attribute.name, f"needs a schedule id, got {value!r}")


@attrs.frozen(kw_only=True)
class ScheduleTarget:
    """Whoever ``schedule_id`` has on call at fire time, paged at ``urgency`` (high or low)."""

    type: ClassVar[str] = "schedule"
    schedule_id: str = attrs.field(validator=_schedule_id)
    urgency: Urgency = attrs.field(default=Urgency.HIGH, converter=Urgency)


def expand(target: ScheduleTarget, ctx: ExpandContext) -> list[Recipient]:
    """The on-call users' recipients; nobody on call: the fallback target's (recorded as unresolved)."""
    schedule_id = target.schedule_id
    users = ctx.oncall(schedule_id)
    if users is None:
        known = ", ".join(sorted(ctx.schedules)) or "(none)"
        ctx.fail(f"unknown schedule {schedule_id!r}; known: {known}")
        return []
    if users:
        return [recipient for user in users for recipient in ctx.person(user, target="schedule")]
    when = ctx.now.isoformat()
    fallback = ctx.schedules[schedule_id].fallback
    if fallback is None:
        ctx.unresolved(f"nobody on call for schedule {schedule_id!r} at {when} and no fallback: nobody paged")
        return []
    recipients = ctx.expand(fallback)
    ctx.unresolved(
        f"nobody on call for schedule {schedule_id!r} at {when}: paged the fallback {fallback.type} target "
        f"({', '.join(r.address for r in recipients) or 'nobody'})"
    )
    return recipients


def check(target: ScheduleTarget, config: Config) -> Iterator[str]:
    """Load-time check: the schedule must be defined in ``schedules``."""
    if config.schedule(target.schedule_id) is None:
        known = ", ".join(sorted(s.id for s in config.schedules)) or "(none)"
        yield f"unknown schedule {target.schedule_id!r}; known: {known}"


@hookimpl
def tocsin_register_targets(register: TargetRegistrar) -> None:
    """Register ``schedule``."""
    register(ScheduleTarget, expand=expand, check=check)
