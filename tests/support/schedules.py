"""Helpers for the schedule tests: schedules written as config documents, compiled with the built-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import tocsin
from support.plugins import builtin_registry

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def layer(name: str, users: list[str], rotation: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A layer as it appears under ``layers:`` in a config file."""
    return {"name": name, "users": users, "rotation": rotation, **more}


def schedule_config(*layers: dict[str, Any], timezone: str = "America/New_York", **more: Any) -> tocsin.Config:
    """A config holding one schedule (id ``s``) with ``layers``, structured and checked like a file."""
    document = {"id": "s", "timezone": timezone, "layers": list(layers), **more}
    return tocsin.parse_config({"schedules": [document]}, builtin_registry(), source="schedules.yaml")


def resolver(*layers: dict[str, Any], timezone: str = "America/New_York", **more: Any) -> tocsin.ScheduleResolver:
    """The compiled resolver of a one-schedule config."""
    config = schedule_config(*layers, timezone=timezone, **more)
    return tocsin.compile_schedule(config.schedules[0], builtin_registry())


def at(text: str) -> datetime:
    """An aware instant from ISO 8601 text that carries its offset (``2026-03-08T03:00:00-04:00``)."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"give {text!r} an offset"
    return moment


def who(resolver: tocsin.ScheduleResolver, text: str) -> list[str]:
    """The users on call at the ISO instant ``text``."""
    return resolver.users_at(at(text))


def shift_table(shifts: list[tocsin.Shift]) -> list[tuple[str, str, str, str]]:
    """Shifts as ``(user, layer, start, end)`` with ISO times, for readable assertions."""
    return [(s.user, s.layer, s.start.isoformat(), s.end.isoformat()) for s in shifts]


def built_resolver(*layers: dict[str, Any], timezone: str = "America/New_York", **more: Any) -> tocsin.ScheduleResolver:
    """Like :func:`resolver`, but the models are built in Python (no config parsing): for property tests that
    compile thousands of schedules."""
    registry = builtin_registry()

    def build_layer(document: dict[str, Any]) -> tocsin.ScheduleLayer:
        settings = dict(document["rotation"])
        rotation = registry.rotations.get(settings.pop("type")).cls(**settings)
        restrictions = document.get("restrictions") or ()
        if isinstance(restrictions, dict):
            restrictions = [restrictions]
        start = document.get("start")
        return tocsin.ScheduleLayer(
            name=document["name"],
            users=tuple(document["users"]),
            rotation=rotation,
            start=datetime.fromisoformat(start) if start else None,
            restrictions=tuple(tocsin.TimeRestrictions(**window) for window in restrictions),
        )

    overrides = tuple(
        tocsin.Override(
            user=item["user"],
            start=datetime.fromisoformat(item["start"]),
            end=datetime.fromisoformat(item["end"]),
            layer=item.get("layer"),
        )
        for item in more.pop("overrides", ())
    )
    schedule = tocsin.OnCallSchedule(
        id="s",
        timezone=timezone,
        resolution=tocsin.Resolution(more.pop("resolution", "all")),
        layers=tuple(build_layer(document) for document in layers),
        overrides=overrides,
    )
    return tocsin.compile_schedule(schedule, registry)
