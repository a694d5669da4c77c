"""Integration source ``generic``: any JSON body, read with JMESPath expressions from the config.

```yaml
integrations:
  ci:
    type: generic
    token: "..."
    items: "events"                  # optional: a list in the body, one event per element
    dedup_key: "id"                  # required: a string or number
    title: "summary"                 # required for create / update
    description: "details"           # optional
    severity: "level"                # optional: looked up in severity_map
    labels: "{host: host, env: env}" # optional: an object; numbers and booleans become strings
    resolve: "state == 'ok'"         # optional: true -> resolve the incident
    update: "kind == 'changed'"      # optional: true -> update the incident
```

Expressions are compiled when the config loads. Truth follows JMESPath: false, null and empty strings,
lists and objects are false; everything else (0 included) is true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import jmespath
from jmespath.exceptions import JMESPathError

from tocsin import FieldError, Severity, SourceRegistrar, hookimpl
from tocsin.integrations import DEFAULT_SEVERITY_MAP, EventAction, IncidentEvent, PayloadError, severity_lookup

Search = Callable[[Any, str], Any]
_PLAIN_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _expression(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        jmespath.compile(value)
    except JMESPathError as exc:
        raise FieldError(
            attribute.name, f"invalid JMESPath expression {value!r}: {' '.join(str(exc).split())}"
        ) from None


@attrs.frozen(kw_only=True)
class GenericSource:
    """Settings of a generic JSON integration: one JMESPath expression per incident field."""

    type: ClassVar[str] = "generic"
    dedup_key: str = attrs.field(validator=_expression)
    title: str = attrs.field(validator=_expression)
    description: str | None = attrs.field(default=None, validator=_expression)
    severity: str | None = attrs.field(default=None, validator=_expression)
    severity_map: dict[str, Severity] = attrs.field(factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    labels: str | None = attrs.field(default=None, validator=_expression)
    resolve: str | None = attrs.field(default=None, validator=_expression)
    update: str | None = attrs.field(default=None, validator=_expression)
    items: str | None = attrs.field(default=None, validator=_expression)


def _truthy(value: Any) -> bool:
    return value is not None and value is not False and value not in ("", [], {})


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _compile(field: str, expression: str | None) -> Search | None:
    if expression is None:
        return None
    compiled = jmespath.compile(expression)

    def search(document: Any, path: str) -> Any:
        try:
            return compiled.search(document)
        except JMESPathError as exc:
            message = " ".join(str(exc).split())
            raise PayloadError(path, f"the {field} expression {expression!r} failed: {message}") from None

    return search


def _required_text(search: Search, field: str, expression: str, document: Any, path: str) -> str:
    value = search(document, path)
    text = _text(value)
    if not text:
        raise PayloadError(
            path, f"the {field} expression {expression!r} found {_shown(value)}; expected a string or number"
        )
    return text


def _labels(value: Any, expression: str, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(path, f"the labels expression {expression!r} gave {_shown(value)}; expected an object")
    labels: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue
        text = ("true" if item else "false") if isinstance(item, bool) else _text(item)
        if text is None:
            raise PayloadError(path, f"label {key!r} is {_shown(item)}; label values are strings, numbers or booleans")
        labels[key] = text
    return labels


def _item_path(expression: str, index: int) -> str:
    # A plain field path reads as JSONPath ($.events[2]); anything fancier is named by its expression.
    if _PLAIN_PATH.fullmatch(expression):
        return f"$.{expression}[{index}]"
    return f"$ (item {index} of {expression!r})"


def compile_source(settings: GenericSource) -> Callable[[Any], list[IncidentEvent]]:
    """The parser for one generic integration, with every expression compiled once."""
    dedup_key = _compile("dedup_key", settings.dedup_key)
    title = _compile("title", settings.title)
    description = _compile("description", settings.description)
    severity = _compile("severity", settings.severity)
    labels = _compile("labels", settings.labels)
    resolve = _compile("resolve", settings.resolve)
    update = _compile("update", settings.update)
    items = _compile("items", settings.items)
    lookup = severity_lookup(settings.severity_map)
    assert dedup_key is not None and title is not None

    def event(document: Any, path: str) -> IncidentEvent:
        if resolve is not None and _truthy(resolve(document, path)):
            action = EventAction.RESOLVE
        elif update is not None and _truthy(update(document, path)):
            action = EventAction.UPDATE
        else:
            action = EventAction.CREATE
        key = _required_text(dedup_key, "dedup_key", settings.dedup_key, document, path)
        if action is EventAction.RESOLVE:
            return IncidentEvent(action=action, dedup_key=key, payload=document, origin=path)
        return IncidentEvent(
            action=action,
            dedup_key=key,
            title=_required_text(title, "title", settings.title, document, path),
            description=_text(description(document, path)) if description else None,
            severity=lookup(severity(document, path)) if severity else None,
            labels=_labels(labels(document, path), settings.labels or "", path) if labels else {},
            payload=document,
            origin=path,
        )

    def parse(body: Any) -> list[IncidentEvent]:
        if items is None:
            return [event(body, "$")]
        found = items(body, "$")
        if not isinstance(found, list):
            raise PayloadError("$", f"the items expression {settings.items!r} gave {_shown(found)}; expected a list")
        return [event(item, _item_path(settings.items or "", index)) for index, item in enumerate(found)]

    return parse


@hookimpl
def tocsin_register_sources(register: SourceRegistrar) -> None:
    """Register ``generic``."""
    register(GenericSource, compile=compile_source)
