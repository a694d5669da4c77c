"""Acting on a page where it arrives: the actions a paged person can take, what came of one, and the interface a
channel plugin acts through when its service calls back (a Slack button, a chat reply).

A channel registers ``interactions=handler`` (see ``ChannelRegistrar``); ``tocsin serve`` then answers
``POST /v1/<channel>/interactions`` by calling ``await handler(request, settings, responder)``. The handler
checks that the request is genuine (its service's signature), works out who acted, and calls
``await responder.act(escalation_id, action, by=person)``: the action runs in ONE store transaction, and the
answer says what happened in words a person can read.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from tocsin.errors import TocsinError
from tocsin.models import User

__all__ = [
    "SNOOZE_MINUTES",
    "ActionOutcome",
    "ActionStatus",
    "InboundAnswer",
    "InboundRequest",
    "InteractionHandler",
    "InteractionRefused",
    "OneTimeKey",
    "PageAction",
    "Responder",
]

SNOOZE_MINUTES = 30  # how long a snooze from a page lasts


class PageAction(enum.StrEnum):
    """What a paged person can do from the page: the action links and buttons, in the order pages show them."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    SNOOZE = "snooze"
    ESCALATE = "escalate"

    @property
    def label(self) -> str:
        """The words on the button or link: ``Acknowledge``, ``Resolve``, ``Snooze 30 min``, ``Escalate now``."""
        return _LABELS[self]


_LABELS = {
    PageAction.ACKNOWLEDGE: "Acknowledge",
    PageAction.RESOLVE: "Resolve",
    PageAction.SNOOZE: f"Snooze {SNOOZE_MINUTES} min",
    PageAction.ESCALATE: "Escalate now",
}


class ActionStatus(enum.StrEnum):
    """What came of an action."""

    DONE = "done"  # the escalation changed (acknowledged, resolved, snoozed, escalated)
    UNCHANGED = "unchanged"  # nothing to do: already acknowledged or resolved, no level left to escalate to
    GONE = "gone"  # the escalation is unknown, or no longer the incident's current one
    USED = "used"  # the one-time credential (an action link, a signed request) was used before


@attrs.frozen(kw_only=True)
class ActionOutcome:
    """What came of one action, for the person who took it: ``message`` says it in a sentence
    (``Acknowledged by eng1@example.com.``, ``Already acknowledged by eng2@example.com at 03:02 UTC.``)."""

    action: PageAction
    status: ActionStatus
    message: str
    escalation_id: str
    incident_id: str = ""
    title: str = ""  # the incident's title, when it is known

    @property
    def done(self) -> bool:
        """True when the action changed the escalation."""
        return self.status is ActionStatus.DONE


@attrs.frozen(kw_only=True)
class OneTimeKey:
    """A credential that may change state once: an action link's token, a signed request. Recorded in the store
    in the same transaction as the change it made, so it works once across restarts and instances."""

    key: str
    expires_at: datetime  # after this the credential is refused anyway, and the store may forget it


@attrs.frozen(kw_only=True)
class InboundRequest:
    """A request a service sent to ``POST /v1/<channel>/interactions``: its headers (names in lower case), its
    raw body (verify signatures over exactly these bytes) and the server's "now"."""

    headers: Mapping[str, str]
    body: bytes
    now: datetime


@attrs.frozen(kw_only=True)
class InboundAnswer:
    """What to answer the service: a status, a body and its media type."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


class InteractionRefused(TocsinError):
    """A callback the handler will not act on, and the answer to give: ``status`` 400 (unreadable), 401 (not
    genuine: a bad, stale or replayed signature), 403 (from someone who is not a tocsin user) ..."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Responder(Protocol):
    """How a channel's interaction handler acts on escalations and looks people up."""

    @property
    def users(self) -> Mapping[str, User]:
        """The configured people by address, with their contacts (to map a service's user id to a person)."""
        ...

    async def act(
        self, escalation_id: str, action: PageAction, *, by: str, once: OneTimeKey | None = None
    ) -> ActionOutcome:
        """Take ``action`` on escalation ``escalation_id`` for ``by``, in one store transaction. With ``once``,
        the key is recorded in that transaction; a key recorded before is refused (``ActionStatus.USED``) and
        nothing changes. An action that changes nothing records nothing."""
        ...


class InteractionHandler(Protocol):
    """A channel's ``interactions`` handler: ``await handler(request, settings, responder)``."""

    async def __call__(self, request: InboundRequest, settings: Any, responder: Responder) -> InboundAnswer: ...
