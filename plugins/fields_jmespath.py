"""Field extractor ``jmespath:<expression>``: a JMESPath expression over the incident as a JSON document.

The document is ``tocsin.incidents.incident_to_json`` (every field, ``payload`` included). The expression
compiles once; a result of null (nothing found) or an expression error counts as a missing field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from tocsin import MISSING, ExtractorRegistrar, Incident, hookimpl
from tocsin.incidents import incident_json_memo

PREFIX = "jmespath:"


def make_compiler(as_json: Callable[[Incident], dict[str, Any]]) -> Callable[[str], Callable[[Incident], Any]]:
    """A ``compile(field)`` whose getters share ``as_json`` (so one evaluation converts the incident once)."""

    def compile_jmespath(field: str) -> Callable[[Incident], Any]:
        expression = field[len(PREFIX) :].strip()
        if not expression:
            raise ValueError(f"{field!r} needs an expression after {PREFIX!r}, e.g. 'jmespath:payload.host'")
        try:
            search = jmespath.compile(expression).search
        except JMESPathError as exc:
            message = " ".join(str(exc).split())
            raise ValueError(f"invalid JMESPath expression {expression!r}: {message}") from None

        def get(incident: Incident) -> Any:
            try:
                value = search(as_json(incident))
            except JMESPathError:
                return MISSING
            return MISSING if value is None else value

        return get

    return compile_jmespath


@hookimpl
def tocsin_register_extractors(register: ExtractorRegistrar) -> None:
    """Register the ``jmespath:`` family; it costs more than an attribute read, so it is tested last."""
    register(PREFIX, make_compiler(incident_json_memo()), prefix=True, cost=6)
