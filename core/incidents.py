"""Incidents as JSON documents: what ``jmespath:`` fields read, what the CLI and the HTTP API print and accept.

``incident_to_json`` writes every field (enums by value, ``created_at`` in ISO 8601, lists for sequences);
``incident_from_json`` reads the same shape back, strictly, with ``id`` and ``created_at`` optional.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn

from tocsin.convert import make_converter, structure_faults
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.models import Incident
from tocsin.registry import Registry

__all__ = ["incident_from_json", "incident_json_memo", "incident_to_json"]


@cache
def _converter() -> cattrs.Converter:
    # Incidents hold no plugin-provided variants, so an empty registry is enough.
    converter = make_converter(Registry())
    converter.register_unstructure_hook_func(lambda cl: cl == tuple[str, ...], lambda value: list(value))
    converter.register_unstructure_hook(
        Incident, make_dict_unstructure_fn(Incident, converter, _cattrs_omit_if_default=False)
    )
    return converter


def incident_to_json(incident: Incident) -> dict[str, Any]:
    """``incident`` as a JSON-ready dict with every field, e.g. ``{"id": …, "severity": "P1", …}``."""
    document: dict[str, Any] = _converter().unstructure(incident, unstructure_as=Incident)
    return document


def incident_from_json(document: Any, *, source: str = "<incident>") -> Incident:
    """Build an incident from a JSON-like mapping (``id`` and ``created_at`` may be left out).

    :param source: names the document in errors (usually its file name).
    :raises ConfigError: listing every fault as ``SOURCE: $.path: message``.
    """
    if not isinstance(document, dict):
        raise ConfigError([ConfigIssue(source, "$", "an incident must be a mapping of fields")])
    try:
        return _converter().structure(document, Incident)
    except Exception as exc:
        raise ConfigError(ConfigIssue(source, path, message) for path, message in structure_faults(exc)) from None


def incident_json_memo() -> Callable[[Incident], dict[str, Any]]:
    """A converter to JSON that remembers its last incident, so several ``jmespath:`` fields of one
    evaluation convert it once. Incidents are immutable: the same object always gives the same document;
    the caller must not change the returned document."""
    last: tuple[Incident | None, dict[str, Any]] = (None, {})

    def as_json(incident: Incident) -> dict[str, Any]:
        nonlocal last
        held = last
        if held[0] is incident:
            return held[1]
        document = incident_to_json(incident)
        last = (incident, document)
        return document

    return as_json
