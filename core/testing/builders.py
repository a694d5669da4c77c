"""Configs and notifications for tests, built in a line or two.

:class:`ConfigBuilder` grows a config document section by section (or from YAML) and reads it against a plugin
set exactly as ``tocsin check`` does: :meth:`ConfigBuilder.build` returns the ``Config``, and
:meth:`ConfigBuilder.faults` the ``$.path: message`` lines a config with faults gets. :func:`make_notification`
is a page as a sender receives it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from tocsin.config.loader import parse_config
from tocsin.config.model import Config
from tocsin.errors import ConfigError
from tocsin.models import ContactSpec, Incident, Notification, Recipient
from tocsin.registry import Registry

__all__ = ["ConfigBuilder", "make_notification"]

_LISTS = ("schedules", "policies", "rules")


class ConfigBuilder:
    """A config document under construction; each method returns the builder, so calls chain.

    :param registry: what the document is read against (the fixture passes the loaded plugins' registry).
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.document: dict[str, Any] = {}

    def yaml(self, text: str) -> ConfigBuilder:
        """Merge a YAML document (see :meth:`merge`)."""
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, Mapping):
            raise TypeError(f"a config document is a mapping of sections, got {type(loaded).__name__}")
        return self.merge(loaded)

    def merge(self, document: Mapping[str, Any]) -> ConfigBuilder:
        """Merge a document: its lists extend the sections (``schedules``, ``policies``, ``rules``), its mappings
        update them, anything else replaces them."""
        for section, value in document.items():
            held = self.document.get(section)
            if section in _LISTS and isinstance(value, list) and isinstance(held, list):
                held.extend(value)
            elif isinstance(value, Mapping) and isinstance(held, dict):
                held.update(value)
            else:  # a copy: building on never changes the caller's document
                self.document[section] = (
                    dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, list) else value
                )
        return self

    def team(self, name: str, members: Sequence[str]) -> ConfigBuilder:
        """Add the team ``name``."""
        self.document.setdefault("teams", {})[name] = list(members)
        return self

    def user(self, address: str, *contacts: Mapping[str, Any]) -> ConfigBuilder:
        """Add how ``address`` is reached (``{"type": "webhook", "url": ...}``, …)."""
        self.document.setdefault("users", {})[address] = {"contacts": [dict(contact) for contact in contacts]}
        return self

    def schedule(self, **fields: Any) -> ConfigBuilder:
        """Add a schedule (``id``, ``timezone``, ``layers``, …)."""
        return self._append("schedules", fields)

    def policy(self, **fields: Any) -> ConfigBuilder:
        """Add an escalation policy (``id``, ``levels``, …)."""
        return self._append("policies", fields)

    def rule(self, **fields: Any) -> ConfigBuilder:
        """Add a routing rule (``name``, ``conditions``, ``actions``, …)."""
        return self._append("rules", fields)

    def channel(self, name: str, **settings: Any) -> ConfigBuilder:
        """Set the ``channels.<name>`` section."""
        self.document.setdefault("channels", {})[name] = settings
        return self

    def plugin(self, name: str, **settings: Any) -> ConfigBuilder:
        """Set the ``plugins.<name>`` section: that plugin's settings."""
        self.document.setdefault("plugins", {})[name] = settings
        return self

    def section(self, name: str, value: Any) -> ConfigBuilder:
        """Set any section as it is (``integrations``, ``working_hours``, ``delivery``, …)."""
        self.document[name] = value
        return self

    def build(self, source: str = "tocsin.yaml") -> Config:
        """The config, read as ``tocsin check`` reads a file named ``source``; raises ``ConfigError`` listing
        every fault."""
        return parse_config(self.document, self.registry, source=source)

    def faults(self, *, source: str | None = None) -> list[str]:
        """The ``$.path: message`` line of each fault, in the order ``tocsin check`` prints them (with ``source``:
        the whole ``FILE: $.path: message`` line); ``[]`` when the config loads."""
        try:
            self.build(source or "tocsin.yaml")
        except ConfigError as exc:
            return [str(issue) if source else f"{issue.path}: {issue.message}" for issue in exc.issues]
        return []

    def _append(self, section: str, item: Mapping[str, Any]) -> ConfigBuilder:
        self.document.setdefault(section, []).append(dict(item))
        return self


def make_notification(
    recipient: str = "oncall@example.com",
    *,
    channel: str = "log",
    contact: ContactSpec | None = None,
    level: int = 0,
    incident: Incident | None = None,
    at: datetime | None = None,
    key: str | None = None,
    **fields: Any,
) -> Notification:
    """A page to ``recipient`` through ``channel`` (with the user's ``contact`` on it, as a sender finds it in
    ``notification.recipient.contact``) for ``incident`` (default: a P1 ``inc-1``), due ``at``."""
    at = at if at is not None else datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    incident = incident if incident is not None else Incident(id="inc-1", title="inc-1", severity="P1", created_at=at)
    return Notification(
        key=key if key is not None else f"{incident.id}/p0/l{level}/{channel}/{recipient}",
        incident_id=incident.id,
        policy_id=fields.pop("policy_id", "test"),
        pass_number=fields.pop("pass_number", 0),
        level=level,
        recipient=Recipient(address=recipient, channel=channel, target=fields.pop("target", "user"), contact=contact),
        due_at=at,
        incident=incident,
        fired_at=at,
        **fields,
    )
