"""Log channel ``{type: log}``: each page is one structured log line. The default for people without contacts.

A log line is this channel's delivery, so a page counts as sent once the line is written.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from tocsin import ChannelRegistrar, DeliveryResult, Notification, Urgency, hookimpl, urgencies_field
from tocsin.logs import get_logger


@attrs.frozen(kw_only=True)
class LogContact:
    """Reach a person through the log (``contacts: [{type: log}]``), for the ``urgencies`` it lists."""

    type: ClassVar[str] = "log"
    urgencies: tuple[Urgency, ...] = urgencies_field()


class LogSender:
    """Writes one ``page`` line per notification."""

    def __init__(self) -> None:
        self._log = get_logger(channel="log")

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Log the page; always confirmed."""
        incident = notification.incident
        self._log.info(
            "page",
            key=notification.key,
            incident_id=notification.incident_id,
            title=incident.title if incident is not None else None,
            severity=incident.severity.value if incident is not None else None,
            policy_id=notification.policy_id,
            level=notification.level,
            pass_number=notification.pass_number,
            recipient=notification.recipient.address,
            target=notification.recipient.target,
            late=notification.late,
        )
        return DeliveryResult(key=notification.key, ok=True, detail="logged")


def create(settings: None) -> LogSender:
    """The log sender (the channel takes no settings)."""
    return LogSender()


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``log`` (a log line shows no action links)."""
    register(LogContact, create=create, links=False)
