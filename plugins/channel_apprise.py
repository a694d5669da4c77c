"""Apprise channel ``{type: apprise, url: "tgram://…"}``: one channel that reaches every service Apprise supports
(Telegram ``tgram://``, ntfy ``ntfys://``, Microsoft Teams through a Power Automate workflow ``workflows://``,
Discord ``discord://``, e-mail ``mailto://``, Pushover ``pover://``, a JSON or form POST ``json://`` /
``form://``, and a hundred more).

Each page is one Apprise notification: the page's one-line summary as the title and its plain-text body (the
incident, the level, who else was paged, and the links) as the body. ntfy URLs also get the first three action
links as ntfy action buttons, which open the link's confirmation page, and open the incident in the web console
when the notification is tapped.

The URL is checked when the config loads (Apprise must know its scheme) and is never shown whole: logs, delivery
results and the API see Apprise's privacy form of it (tokens and passwords masked). Apprise sends in a worker
thread with its own HTTP client (the webhook SSRF policy does not apply: the URL comes from the config, like a
webhook's). What an answer means: Apprise accepted it is delivered; a URL Apprise cannot use, and a 4xx answer
the service gave (other than 408 and 429), are permanent; every other failure is retried by the outbox.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from tocsin import (
    ActionLink,
    ChannelRegistrar,
    DeliveryResult,
    FieldError,
    Notification,
    Urgency,
    hookimpl,
    page_subject,
    page_text,
    urgencies_field,
)

_STATUS = re.compile(r"error=(\d{3})\b")
_NTFY = frozenset({"ntfy", "ntfys"})
_NTFY_ACTIONS = 3  # ntfy shows at most three action buttons


def _parsed(url: str) -> Any:
    """Apprise's service for ``url``, or None when Apprise does not know the URL. (Apprise loads on first use: a
    config without apprise contacts never imports it.)"""
    import apprise

    return apprise.Apprise.instantiate(url)


def _apprise_url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or "://" not in value:
        raise FieldError(attribute.name, f"needs an Apprise URL such as tgram://bottoken/ChatID, got {value!r}")
    if _parsed(value) is None:
        scheme = value.partition("://")[0]
        why = "an unknown service, or a part it needs is missing"
        raise FieldError(attribute.name, f"Apprise cannot use this {scheme}:// URL ({why})")


@attrs.frozen(kw_only=True)
class AppriseContact:
    """Reach a person (or a ``notify`` channel) through the Apprise service at ``url``, for the page ``urgencies``
    it lists."""

    type: ClassVar[str] = "apprise"
    url: str = attrs.field(validator=_apprise_url, repr=False)
    urgencies: tuple[Urgency, ...] = urgencies_field()


def shown(url: str) -> str:
    """``url`` as it may be shown: Apprise's privacy form (secrets masked)."""
    service = _parsed(url)
    return str(service.url(privacy=True)) if service is not None else url.partition("://")[0] + "://…"


def with_ntfy_actions(url: str, links: tuple[ActionLink, ...]) -> str:
    """An ntfy URL with the first action links as ntfy ``view`` action buttons, and the link that opens the
    incident in the web console as what a tap on the notification opens (``click``); any other URL as it is."""
    parts = urlsplit(url)
    if parts.scheme not in _NTFY or not links:
        return url
    acting = [link for link in links if not link.opens][:_NTFY_ACTIONS]
    added = [("actions", "; ".join(f"view, {link.label}, {link.url}, clear=true" for link in acting))] if acting else []
    added += [("click", link.url) for link in links if link.opens][:1]
    names = {name for name, _ in added}
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name not in names]
    # Percent-escapes, not "+" for a space: Apprise unquotes its query values but leaves "+" as it is.
    return urlunsplit(parts._replace(query=urlencode([*query, *added], quote_via=quote)))


class AppriseSender:
    """Sends each page through a fresh Apprise object, in a worker thread."""

    def endpoint(self, notification: Notification) -> str:
        """The service, as it may be shown, with a digest of the URL (two URLs that differ only in a masked
        secret are two endpoints)."""
        url = self._url(notification)
        return f"{shown(url)}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Notify once; the result says whether the outbox should try again."""
        import asyncio

        return await asyncio.to_thread(self._send, notification)

    def _url(self, notification: Notification) -> str:
        contact = notification.recipient.contact
        return contact.url if isinstance(contact, AppriseContact) else notification.recipient.address

    def _send(self, notification: Notification) -> DeliveryResult:
        import apprise

        url = self._url(notification)
        where = shown(url)
        service = apprise.Apprise()
        if not service.add(with_ntfy_actions(url, notification.links)):
            return DeliveryResult(key=notification.key, ok=False, retryable=False, detail=f"Apprise cannot use {where}")
        kind = apprise.NotifyType.FAILURE if notification.urgency is Urgency.HIGH else apprise.NotifyType.WARNING
        result = service.notify(
            body=page_text(notification),
            title=page_subject(notification),
            notify_type=kind,
            body_format=apprise.NotifyFormat.TEXT,
        )
        if result:
            return DeliveryResult(key=notification.key, ok=True, detail=f"accepted by {where}")
        problems = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
        reason = problems[-1] if problems else "the service did not accept it"
        status = next((int(m.group(1)) for p in reversed(problems) if (m := _STATUS.search(p))), None)
        permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
        return DeliveryResult(
            key=notification.key, ok=False, retryable=not permanent, detail=f"Apprise {where}: {reason[:300]}"
        )


def create(settings: None) -> AppriseSender:
    """The sender (the channel takes no settings: each URL says everything)."""
    return AppriseSender()


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``apprise``."""
    register(AppriseContact, create=create)
