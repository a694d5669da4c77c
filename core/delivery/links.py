"""Action links: signed, expiring URLs in a page that act on its escalation from the page itself, and the
link that opens the incident in the web console.

Each action link is ``{server.public_url}/v1/links/{token}``. The token is signed with itsdangerous
(HMAC-SHA256 over the payload, keyed by the secret in the environment variable
``server.action_links.secret_env``) and binds the escalation, the recipient the page went to, the action and an
expiry; it carries a random id besides, which the store records when the link changes something, so a link
works once (across restarts and instances). Opening a link shows a confirmation page and changes nothing; the
page's button POSTs it (see ``tocsin.server.routes_links``).

The "Open in tocsin" link is ``{server.public_url}/ui/links/{token}``, a token of the same kind whose action is
``open``: it acts on nothing, and signs its recipient in to the web console until it expires (see
``tocsin.server.console``).

Links are made when a page is handed to its channel, never stored: a retry carries fresh ones. Rotating the
secret: set the new secret in ``secret_env`` and the old one in ``previous_secret_env``, restart; links signed
with either are accepted, new ones are signed with the new one; once ``expire_hours`` have passed, drop the old.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from tocsin.clock import Clock
from tocsin.errors import TocsinError
from tocsin.models import ActionLink, ContactSpec, FieldError, Notification, User
from tocsin.registry import Registry
from tocsin.responding import OneTimeKey, PageAction
from tocsin.validators import positive

__all__ = [
    "LINKS",
    "LINK_PATH",
    "MIN_SECRET_LENGTH",
    "OPEN",
    "OPEN_PATH",
    "ActionLinks",
    "BadLink",
    "ExpiredLink",
    "LinkBuilder",
    "LinkClaim",
    "LinkError",
    "LinkSettings",
    "check_links",
]

LINK_PATH = "/v1/links/"
OPEN_PATH = "/ui/links/"  # the web console's: the link that opens the incident there
OPEN = ActionLink.OPEN  # the ``action`` of that link (an ``ActionLink``'s, and in its token)
_OPEN_LABEL = "Open in tocsin"
MIN_SECRET_LENGTH = 32
_SALT = "tocsin.action-link.v1"


def _env_name(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip() or "=" in value):
        raise FieldError(attribute.name, f"needs the name of an environment variable, got {value!r}")


@attrs.frozen(kw_only=True)
class LinkSettings:
    """``server.action_links``: the environment variables holding the signing secret (and, while rotating, the
    previous one), and how long a link lasts."""

    secret_env: str = attrs.field(default="TOCSIN_LINK_SECRET", validator=_env_name)
    previous_secret_env: str | None = attrs.field(default=None, validator=_env_name)
    expire_hours: float = attrs.field(default=24.0, validator=positive)

    def secrets(self) -> list[str]:
        """The secrets links are checked against, the signing one last; ``LookupError`` names a variable that is
        unset or holds fewer than 32 characters."""
        found = [_secret(self.previous_secret_env)] if self.previous_secret_env else []
        return [*found, _secret(self.secret_env)]


def _secret(variable: str) -> str:
    value = os.environ.get(variable, "")
    if len(value) < MIN_SECRET_LENGTH:
        state = "is not set" if not value else f"holds fewer than {MIN_SECRET_LENGTH} characters"
        raise LookupError(f"action links: the environment variable {variable} {state}")
    return value


class LinkError(TocsinError):
    """An action link that cannot be used; the message says why, for the person who opened it."""


class BadLink(LinkError):
    """Not a link this tocsin made (mistyped, cut short, changed, or signed with a secret it no longer has)."""


class ExpiredLink(LinkError):
    """A genuine link past its expiry."""


@attrs.frozen(kw_only=True)
class LinkClaim:
    """What a genuine, unexpired link says: act on ``escalation_id`` for ``recipient`` (``action`` None: the
    link opens the incident in the web console and acts on nothing)."""

    token_id: str
    escalation_id: str
    recipient: str
    action: PageAction | None
    expires_at: datetime

    def once(self) -> OneTimeKey:
        """The one-time key the store records when the link changes something."""
        return OneTimeKey(key=f"link:{self.token_id}", expires_at=self.expires_at)


# ``build(links, escalation_id, recipient)``: one link of a page (None: none for this page).
LinkBuilder = Callable[["ActionLinks", str, str], ActionLink | None]


def _signed(action: PageAction) -> LinkBuilder:
    def build(links: ActionLinks, escalation_id: str, recipient: str) -> ActionLink:
        return ActionLink(action=action.value, label=action.label, url=links.url(escalation_id, recipient, action))

    return build


def _opener(links: ActionLinks, escalation_id: str, recipient: str) -> ActionLink:
    return ActionLink(action=OPEN, label=_OPEN_LABEL, url=links.url(escalation_id, recipient, None))


# The links of every page, in the order they are shown: the one-time actions, then the one that opens the incident
# in the web console.
LINKS: tuple[LinkBuilder, ...] = (*(_signed(action) for action in PageAction), _opener)


class ActionLinks:
    """Makes a page's action links and reads them back.

    :param public_url: where people reach this tocsin (``https://tocsin.example.com``; a path prefix is kept).
    :param secrets: the secrets links are checked against; the last one signs.
    :param clock: "now", for expiry.
    :param expire: how long a link lasts.
    """

    def __init__(self, public_url: str, secrets: Sequence[str], *, clock: Clock, expire: timedelta) -> None:
        from itsdangerous import URLSafeSerializer  # loaded by the server, not by every command that reads a config

        if not secrets:
            raise ValueError("action links need at least one secret")
        self.public_url = public_url.rstrip("/")
        self._serializer = URLSafeSerializer(list(secrets), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
        self._clock = clock
        self._expire = expire

    @classmethod
    def from_settings(cls, public_url: str, settings: LinkSettings, clock: Clock) -> ActionLinks:
        """Links for ``public_url`` signed with the secrets ``settings`` name (``LookupError`` when one is unset)."""
        return cls(public_url, settings.secrets(), clock=clock, expire=timedelta(hours=settings.expire_hours))

    def for_page(self, notification: Notification) -> Notification:
        """``notification`` with its links (and those of each page a summary carries); a page outside an
        escalation gets none."""
        recipient = notification.recipient.address
        if notification.folded:
            folded = tuple(
                attrs.evolve(page, links=self.make(page.escalation_id, recipient)) for page in notification.folded
            )
            return attrs.evolve(notification, folded=folded)
        if not notification.escalation_id:
            return notification
        return attrs.evolve(notification, links=self.make(notification.escalation_id, recipient))

    def make(self, escalation_id: str, recipient: str) -> tuple[ActionLink, ...]:
        """The links of a page of ``escalation_id`` sent to ``recipient``."""
        if not escalation_id:
            return ()
        made = (build(self, escalation_id, recipient) for build in LINKS)
        return tuple(link for link in made if link is not None)

    def url(self, escalation_id: str, recipient: str, action: PageAction | None) -> str:
        """A new link: ``action`` on ``escalation_id`` for ``recipient`` (None: the link that opens the incident
        in the web console), valid until the expiry from now."""
        expires = int((self._clock.now() + self._expire).timestamp())
        kind = action.value if action is not None else OPEN
        token = self._serializer.dumps([escalation_id, recipient, kind, expires, secrets.token_urlsafe(12)])
        return f"{self.public_url}{LINK_PATH if action is not None else OPEN_PATH}{token}"

    def read(self, token: str) -> LinkClaim:
        """What the link ``token`` says; ``BadLink`` when it is not genuine, ``ExpiredLink`` past its expiry."""
        from itsdangerous import BadSignature

        try:
            escalation_id, recipient, action, expires, token_id = self._serializer.loads(token)
            claim = LinkClaim(
                token_id=str(token_id),
                escalation_id=str(escalation_id),
                recipient=str(recipient),
                action=None if action == OPEN else PageAction(action),
                expires_at=datetime.fromtimestamp(int(expires), UTC),
            )
        except (BadSignature, TypeError, ValueError):
            raise BadLink(
                "this link is not valid: it was not made by this tocsin, was cut short, or was changed"
            ) from None
        if self._clock.now() >= claim.expires_at:
            raise ExpiredLink(
                f"this link expired at {claim.expires_at:%Y-%m-%d %H:%M} UTC; act from a newer page or the API"
            )
        return claim


def check_links(
    public_url: str | None, users: Mapping[str, User], notify_channels: Mapping[str, ContactSpec], registry: Registry
) -> Iterator[tuple[str, str]]:
    """Config warning: pages go out through a channel that shows action links, but without
    ``server.public_url`` none are made."""
    if public_url is not None:
        return
    uses = [
        (f"$.users[{address!r}].contacts[{number}]", contact)
        for address, user in users.items()
        for number, contact in enumerate(user.contacts)
    ]
    uses += [(f"$.notify_channels[{name!r}]", contact) for name, contact in notify_channels.items()]
    for path, contact in uses:
        if contact.type in registry.channels and registry.channels.get(contact.type).links:
            yield (
                "$.server.public_url",
                f"not set, so pages carry no links (acknowledge, resolve, snooze, escalate, open in tocsin), though "
                f"{contact.type} messages could (first at {path}); set it to the URL people reach tocsin at",
            )
            return
