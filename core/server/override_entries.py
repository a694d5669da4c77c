"""A schedule's overrides as the API lists them (``GET /v1/schedules/{id}/overrides``) and the web console's
calendar marks them: the config's, then those made at run time, in the order they apply (a later one wins where
two overlap)."""

from __future__ import annotations

from datetime import datetime

from tocsin.escalation.overrides import RuntimeOverrides
from tocsin.models import Override
from tocsin.schedules.resolver import ScheduleResolver
from tocsin.server.views import OverrideEntry
from tocsin.store.records import ScheduleOverride

__all__ = ["override_entries"]


def override_entries(
    resolver: ScheduleResolver, made: RuntimeOverrides, start: datetime, end: datetime | None
) -> tuple[OverrideEntry, ...]:
    """The overrides of ``resolver``'s schedule in force at some time from ``start`` on (until ``end`` when
    given): its config's, then those in ``made``."""
    configured = []
    for override in resolver.schedule.overrides:
        low, high = resolver.localize(override.start), resolver.localize(override.end)
        if high > start and (end is None or low <= end):
            configured.append(_configured(override, low, high))
    return (*configured, *(_made(override) for override in made.between(resolver.schedule.id, start, end)))


def _configured(override: Override, start: datetime, end: datetime) -> OverrideEntry:
    return OverrideEntry(
        id=None,
        source="config",
        user=override.user,
        start=start,
        end=end,
        layer=override.layer,
        note="",
        created_by=None,
        created_at=None,
        swap_id=None,
    )


def _made(override: ScheduleOverride) -> OverrideEntry:
    return OverrideEntry(
        id=override.id,
        source="api",
        user=override.user,
        start=override.start,
        end=override.end,
        layer=override.layer,
        note=override.note,
        created_by=override.created_by,
        created_at=override.created_at,
        swap_id=override.swap_id,
    )
