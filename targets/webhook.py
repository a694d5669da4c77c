"""Webhook target ``{type: webhook, url}``: POST the page to a URL through the ``webhook`` channel.

The recipient's address is the URL; the channel sends the versioned JSON payload (see the notification
docs).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from tocsin import ExpandContext, Recipient, TargetRegistrar, Urgency, hookimpl
from tocsin.validators import http_url


@attrs.frozen(kw_only=True)
class WebhookTarget:
    """An HTTP endpoint that receives the page (its payload says the ``urgency``, high or low)."""

    type: ClassVar[str] = "webhook"
    url: str = attrs.field(validator=http_url)
    urgency: Urgency = attrs.field(default=Urgency.HIGH, converter=Urgency)


def expand(target: WebhookTarget, ctx: ExpandContext) -> list[Recipient]:
    """One recipient: the URL, through the webhook channel."""
    return [Recipient(address=target.url, channel="webhook", target="webhook", urgency=ctx.urgency)]


@hookimpl
def tocsin_register_targets(register: TargetRegistrar) -> None:
    """Register ``webhook``."""
    register(WebhookTarget, expand=expand)
