"""Alert groups: the webhook body that Alertmanager and Grafana Alerting both send, read into incident events.

Both tools notify about a *group* of Prometheus-style alerts: ``{"status", "groupKey", "commonLabels",
"commonAnnotations", "alerts": [{"status", "labels", "annotations", "fingerprint", "startsAt", …}]}``.
:func:`alert_group_events` reads one such body: by default one event per alert, keyed by its fingerprint
(or, when the tool sent none, a hash of its labels); with ``group=True`` one event for the whole group,
keyed by ``groupKey``. A firing alert (group) is a ``create``, a resolved one a ``resolve``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from tocsin.integrations.events import (
    DEFAULT_SEVERITY_MAP,
    EventAction,
    IncidentEvent,
    PayloadError,
    list_at,
    mapping_at,
    severity_lookup,
    string_at,
    string_map_at,
)
from tocsin.models import FieldError, Severity

__all__ = ["AlertGroupReader", "AlertGroupSettings", "alert_group_events", "labels_fingerprint"]

_STATUSES = {"firing": EventAction.CREATE, "resolved": EventAction.RESOLVE}


@attrs.frozen(kw_only=True)
class AlertGroupReader:
    """How to read one tool's alert groups.

    :param tool: the tool's name, for default titles (``"Alertmanager"``).
    :param severity: ``lookup(label value) -> Severity | None`` (``tocsin.integrations.events.severity_lookup``).
    :param severity_label: the alert label whose value is looked up.
    :param group: one event per group (keyed by ``groupKey``) instead of one per alert.
    """

    tool: str
    severity: Callable[[Any], Severity | None]
    severity_label: str = "severity"
    group: bool = False


def _label_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        raise FieldError(attribute.name, "must name a label, got an empty string")


@attrs.frozen(kw_only=True)
class AlertGroupSettings:
    """The settings every alert-group source shares; a source's settings class subclasses it and adds its
    ``type`` tag."""

    group: bool = False  # one incident per notification group (groupKey) instead of one per alert
    severity_label: str = attrs.field(default="severity", validator=_label_name)
    severity_map: dict[str, Severity] = attrs.field(factory=lambda: dict(DEFAULT_SEVERITY_MAP))

    def reader(self, tool: str) -> AlertGroupReader:
        """The reader these settings describe, naming ``tool`` in default titles."""
        return AlertGroupReader(
            tool=tool,
            severity=severity_lookup(self.severity_map),
            severity_label=self.severity_label,
            group=self.group,
        )


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable key for a label set, for alerts that come without a fingerprint: 16 hex digits."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _status(document: Mapping[str, Any], path: str) -> EventAction:
    status = string_at(document, "status", path, required=True)
    action = _STATUSES.get(status or "")
    if action is None:
        raise PayloadError(f"{path}.status", f"expected 'firing' or 'resolved', got {status!r}")
    return action


@attrs.frozen(kw_only=True)
class _Alert:
    action: EventAction
    labels: dict[str, str]
    annotations: dict[str, str]
    key: str
    raw: Mapping[str, Any]
    path: str


def _read_alert(value: Any, path: str) -> _Alert:
    alert = mapping_at(value, path)
    action = _status(alert, path)
    labels = string_map_at(alert, "labels", path)
    annotations = string_map_at(alert, "annotations", path)
    for key in ("startsAt", "endsAt", "generatorURL"):
        string_at(alert, key, path)
    fingerprint = string_at(alert, "fingerprint", path)
    if not fingerprint and not labels:
        raise PayloadError(path, "an alert needs a fingerprint or labels to tell it apart from the others")
    return _Alert(
        action=action,
        labels=labels,
        annotations=annotations,
        key=fingerprint or labels_fingerprint(labels),
        raw=alert,
        path=path,
    )


def _title(annotations: Mapping[str, str], labels: Mapping[str, str], fallback: str) -> str:
    return annotations.get("summary") or annotations.get("title") or labels.get("alertname") or fallback


def _description(annotations: Mapping[str, str]) -> str:
    return annotations.get("description") or annotations.get("message") or ""


def alert_group_events(body: Any, reader: AlertGroupReader) -> list[IncidentEvent]:
    """Read one alert-group body into events; ``PayloadError`` names the first field that is wrong.

    Every alert is checked before any event is made, so a bad alert anywhere rejects the whole body.
    """
    document = mapping_at(body, "$")
    if "alerts" not in document:
        raise PayloadError("$.alerts", "required field missing")
    raw_alerts = list_at(document["alerts"], "$.alerts")
    alerts = [_read_alert(value, f"$.alerts[{index}]") for index, value in enumerate(raw_alerts)]
    common_labels = string_map_at(document, "commonLabels", "$")
    common_annotations = string_map_at(document, "commonAnnotations", "$")
    string_map_at(document, "groupLabels", "$")
    group_key = string_at(document, "groupKey", "$", required=reader.group)
    group_action = _status(document, "$")
    if not reader.group:
        envelope = {key: value for key, value in document.items() if key != "alerts"}
        return [_alert_event(alert, reader, envelope) for alert in alerts]
    assert group_key is not None
    firing = [alert for alert in alerts if alert.action is EventAction.CREATE]
    severities = [s for s in (reader.severity(a.labels.get(reader.severity_label)) for a in firing) if s is not None]
    common = reader.severity(common_labels.get(reader.severity_label))
    title = _title(common_annotations, common_labels, f"{reader.tool} alert group {group_key}")
    description = _description(common_annotations) or "\n".join(
        f"- {_title(a.annotations, a.labels, a.key)}" for a in firing
    )
    return [
        IncidentEvent(
            action=group_action,
            dedup_key=group_key,
            title=title,
            description=description,
            severity=min(severities, key=lambda s: s.rank) if severities else common,
            labels=common_labels,
            payload=dict(document),
        )
    ]


def _alert_event(alert: _Alert, reader: AlertGroupReader, envelope: Mapping[str, Any]) -> IncidentEvent:
    return IncidentEvent(
        action=alert.action,
        dedup_key=alert.key,
        title=_title(alert.annotations, alert.labels, f"{reader.tool} alert {alert.key}"),
        description=_description(alert.annotations),
        severity=reader.severity(alert.labels.get(reader.severity_label)),
        labels=alert.labels,
        payload={**envelope, "alert": dict(alert.raw)},
        origin=alert.path,
    )
