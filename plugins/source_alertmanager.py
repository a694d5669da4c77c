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

from tocsin import SourceRegistrar, hookimpl
from tocsin.integrations import AlertGroupSettings, IncidentEvent, PayloadError, alert_group_events, mapping_at

VERSION = "4"


@attrs.frozen(kw_only=True)
class AlertmanagerSource(AlertGroupSettings):
    """Settings of an Alertmanager integration."""

    type: ClassVar[str] = "alertmanager"


def compile_source(settings: AlertmanagerSource) -> Callable[[Any], list[IncidentEvent]]:
    """The parser for one Alertmanager integration: checks the payload version, then reads the alert group."""
    reader = settings.reader("Alertmanager")

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
