"""Integration source ``alertmanager``: Prometheus Alertmanager's webhook receiver payload (version 4).

Each alert becomes one incident, keyed by its fingerprint: ``annotations.summary`` (else the ``alertname``
label) is the title, ``annotations.description`` the description, the alert's labels the incident's labels,
and the ``severity`` label picks the severity through ``severity_map``. A firing alert that is sent again
counts a repeat; a resolved alert resolves its incident. With ``group: true`` each notification group
(``groupKey``) is one incident instead.

```yaml
integrations:
  prom: {type: alertmanager, token: "...", group: false, severity_map: {critical: P1, warning: P3}}
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from tocsin import FieldError, Severity, SourceRegistrar, hookimpl
from tocsin.alert_groups import AlertGroupReader, alert_group_events
from tocsin.integrations import DEFAULT_SEVERITY_MAP, IncidentEvent, PayloadError, mapping_at, severity_lookup

VERSION = "4"


def _label_name(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value:
        raise FieldError(attribute.name, "must name a label, got an empty string")


@attrs.frozen(kw_only=True)
class AlertmanagerSource:
    """Settings of an Alertmanager integration."""

    type: ClassVar[str] = "alertmanager"
    group: bool = False  # one incident per notification group (groupKey) instead of one per alert
    severity_label: str = attrs.field(default="severity", validator=_label_name)
    severity_map: dict[str, Severity] = attrs.field(factory=lambda: dict(DEFAULT_SEVERITY_MAP))


def compile_source(settings: AlertmanagerSource) -> Callable[[Any], list[IncidentEvent]]:
    """The parser for one Alertmanager integration: checks the payload version, then reads the alert group."""
    reader = AlertGroupReader(
        tool="Alertmanager",
        severity=severity_lookup(settings.severity_map),
        severity_label=settings.severity_label,
        group=settings.group,
    )

    def parse(body: Any) -> list[IncidentEvent]:
        version = mapping_at(body, "$").get("version")
        if version != VERSION:
            raise PayloadError(
                "$.version", f"expected Alertmanager's webhook payload version {VERSION!r}, got {version!r}"
            )
        return alert_group_events(body, reader)

    return parse


@hookimpl
def tocsin_register_sources(register: SourceRegistrar) -> None:
    """Register ``alertmanager``."""
    register(AlertmanagerSource, compile=compile_source)
