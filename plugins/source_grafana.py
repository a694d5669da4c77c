"""Integration source ``grafana``: Grafana Alerting's webhook contact point payload (version 1).

Grafana's body is Alertmanager's alert group with a few more fields (``orgId``, ``title``, ``state``,
``message``; per alert ``values``, ``dashboardURL``, ``panelURL``, ``silenceURL``), and is read the same
way: one incident per alert, keyed by its fingerprint (older Grafana sends none: a hash of the labels),
title from ``annotations.summary`` (else ``alertname``), the ``severity`` label through ``severity_map``;
firing again counts a repeat, resolved resolves. ``group: true``: one incident per ``groupKey``. Legacy
(pre-8) Grafana alert notifications are refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from tocsin import SourceRegistrar, hookimpl
from tocsin.integrations import AlertGroupSettings, IncidentEvent, PayloadError, alert_group_events, mapping_at

VERSION = "1"


@attrs.frozen(kw_only=True)
class GrafanaSource(AlertGroupSettings):
    """Settings of a Grafana Alerting integration."""

    type: ClassVar[str] = "grafana"


def compile_source(settings: GrafanaSource) -> Callable[[Any], list[IncidentEvent]]:
    """The parser for one Grafana integration: checks the payload version, then reads the alert group."""
    reader = settings.reader("Grafana")

    def parse(body: Any) -> list[IncidentEvent]:
        document = mapping_at(body, "$")
        if "alerts" not in document and ("ruleName" in document or "evalMatches" in document):
            raise PayloadError(
                "$",
                "this is a legacy Grafana alert notification (ruleName/evalMatches); "
                "tocsin reads Grafana Alerting's webhook contact point payload",
            )
        version = document.get("version")
        if version != VERSION:
            raise PayloadError("$.version", f"expected Grafana's webhook payload version {VERSION!r}, got {version!r}")
        return alert_group_events(document, reader)

    return parse


@hookimpl
def tocsin_register_sources(register: SourceRegistrar) -> None:
    """Register ``grafana``."""
    register(GrafanaSource, compile=compile_source)
