"""Field extractor ``labels.<key>``: the incident's label ``key`` (a string), missing when not set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tocsin import MISSING, ExtractorRegistrar, Incident, hookimpl

PREFIX = "labels."


def compile_label(field: str) -> Callable[[Incident], Any]:
    """The getter for ``labels.<key>``; the key is everything after the prefix (dots included)."""
    key = field[len(PREFIX) :]
    if not key:
        raise ValueError(f"{field!r} needs a label key after {PREFIX!r}, e.g. 'labels.team'")

    def label(incident: Incident, key: str = key) -> Any:
        return incident.labels.get(key, MISSING)

    return label


@hookimpl
def tocsin_register_extractors(register: ExtractorRegistrar) -> None:
    """Register the ``labels.`` family of fields."""
    register(PREFIX, compile_label, prefix=True)
