"""Field extractors for the incident's own fields: id, source, title, description, severity, state,
incident_type, priority_score, assignees and created_at.

Values are plain JSON-like data: enums as their text (``"P1"``, ``"Security"``), ``assignees`` as a list
of strings, ``created_at`` as an ISO 8601 string.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from tocsin import ExtractorRegistrar, Incident, hookimpl


def _created_at(incident: Incident) -> str:
    return incident.created_at.isoformat()


# Attribute reads run in C; an enum member's ``_value_`` is its plain text.
GETTERS: dict[str, Callable[[Incident], Any]] = {
    "id": attrgetter("id"),
    "source": attrgetter("source"),
    "title": attrgetter("title"),
    "description": attrgetter("description"),
    "severity": attrgetter("severity._value_"),
    "state": attrgetter("state._value_"),
    "incident_type": attrgetter("incident_type._value_"),
    "priority_score": attrgetter("priority_score"),
    "assignees": attrgetter("assignees"),
    "created_at": _created_at,
}


def compile_field(field: str) -> Callable[[Incident], Any]:
    """The getter for one of the incident's own fields."""
    return GETTERS[field]


@hookimpl
def tocsin_register_extractors(register: ExtractorRegistrar) -> None:
    """Register one extractor per incident field."""
    for name in GETTERS:
        register(name, compile_field)
