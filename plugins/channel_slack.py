"""Slack channel ``{type: slack, user: U0123ABCD}`` (a direct message) or ``{type: slack, channel: C0123ABCD}``.

Each page is one ``chat.postMessage`` through Slack's Web API (slack-sdk) with Block Kit: the title, the severity,
the level, the incident's fields, buttons Acknowledge / Resolve / Snooze, and (with ``server.public_url``) an
"Open in tocsin" button that opens the incident in the web console. Pressing an action makes Slack POST to
``/v1/slack/interactions``: the request's signature is checked with slack-sdk's verifier (the signing secret,
v0 HMAC, five minutes either way, and never the same request twice), the Slack member is mapped to a tocsin user
(the person whose slack contact has that ``user``, or ``channels.slack.users``), the action is taken, and the
message is updated (``chat.update``: "Acknowledged by …").

Settings (``channels: {slack: {token_env, signing_secret_env, api_url, users, allow_networks}}``) are required;
the bot token and the signing secret come from environment variables, never the file. ``api_url`` is Slack's
Web API unless set (tests point it at a fake on 127.0.0.1, which ``allow_networks`` lets through the SSRF
policy). Answers: ``ok`` is delivered; HTTP 429 and 5xx, ``ratelimited`` and Slack's own faults are retried
(``Retry-After`` honoured); any other error (``channel_not_found``, ``invalid_auth``, …) is permanent.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

import attrs

from tocsin import (
    ActionLink,
    ActionOutcome,
    ActionStatus,
    ChannelRegistrar,
    DeliveryResult,
    FieldError,
    InboundAnswer,
    InboundRequest,
    InteractionRefused,
    Notification,
    OneTimeKey,
    PageAction,
    Responder,
    Urgency,
    hookimpl,
    page_subject,
    urgencies_field,
)
from tocsin.delivery.webhook.ssrf import validate_networks
from tocsin.logs import get_logger
from tocsin.validators import http_url, positive

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

_log = get_logger(component="slack")
_BUTTONS = (PageAction.ACKNOWLEDGE, PageAction.RESOLVE, PageAction.SNOOZE)
_AFTER = {PageAction.ACKNOWLEDGE: (PageAction.RESOLVE, PageAction.SNOOZE), PageAction.SNOOZE: (PageAction.RESOLVE,)}
_RETRIED = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_OPEN = "tocsin_open"  # the action id of the button that opens the incident in the web console
_REPLAY_WINDOW = 10 * 60  # a signature is remembered this long: beyond five minutes either way it is stale anyway


def _env(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise LookupError(f"slack: the environment variable {variable} ({what}) is not set")
    return value


@attrs.frozen(kw_only=True)
class SlackContact:
    """Post to a Slack member (``user``: a direct message; their button presses act as this person) or to a
    ``channel``, for the page ``urgencies`` it lists."""

    type: ClassVar[str] = "slack"
    user: str | None = None
    channel: str | None = None
    urgencies: tuple[Urgency, ...] = urgencies_field()

    def __attrs_post_init__(self) -> None:
        if (self.user is None) == (self.channel is None):
            raise FieldError("user", "give exactly one of user (a member id, U…) and channel (C… or #name)")

    @property
    def destination(self) -> str:
        """Where ``chat.postMessage`` posts."""
        return self.user or self.channel or ""


@attrs.frozen(kw_only=True)
class SlackSettings:
    """The Slack app: where its bot token and signing secret are, the Web API's URL, and Slack members who act
    on channel messages without being paged on Slack (member id -> tocsin user address)."""

    token_env: str
    signing_secret_env: str
    api_url: str = attrs.field(default="https://slack.com/api/", validator=http_url)
    users: dict[str, str] = attrs.field(factory=dict)
    allow_networks: tuple[str, ...] = attrs.field(default=(), validator=validate_networks)
    timeout_seconds: float = attrs.field(default=10.0, validator=positive)


def _client(settings: SlackSettings, token: str) -> AsyncWebClient:
    """A Web API client on an SSRF-guarded session (close its ``session`` when done); the outbox retries."""
    from slack_sdk.web.async_client import AsyncWebClient

    from tocsin.delivery.webhook.post import make_session

    client = AsyncWebClient(
        token=token,
        base_url=settings.api_url,
        timeout=int(max(settings.timeout_seconds, 1)),
        session=make_session(settings.allow_networks),
        retry_handlers=[],
    )
    client.proxy = None  # the session's connector decides where a connection goes
    return client


def _text(value: str) -> str:
    """``value`` escaped for Slack's mrkdwn."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page_blocks(notification: Notification, buttons: tuple[PageAction, ...] = _BUTTONS) -> list[dict[str, Any]]:
    """The Block Kit message of a page (or of a rate limit's summary)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": page_subject(notification)[:150]}}
    ]
    if notification.folded:
        lines = "\n".join(f"• {_text(page.title)} ({_text(page.incident_id)})" for page in notification.folded)
        return [*blocks, {"type": "section", "text": {"type": "mrkdwn", "text": lines[:3000]}}]
    incident = notification.incident
    fields = []
    if incident is not None:
        fields += [("Severity", incident.severity.value), ("Incident", incident.id), ("State", incident.state.value)]
    if notification.level >= 0:
        fields += [("Level", f"{notification.level} (pass {notification.pass_number})")]
    others = [address for address in notification.paged if address != notification.recipient.address]
    if others:
        fields.append(("Also paged", ", ".join(others)))
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_text(v)}"} for k, v in fields]})
    if incident is not None and incident.description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _text(incident.description)[:3000]}})
    elements = [_button(notification.escalation_id, action) for action in buttons] if notification.escalation_id else []
    elements += [_open_button(link) for link in notification.links if link.opens]
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    return blocks


def _open_button(link: ActionLink) -> dict[str, Any]:
    """A button that opens ``link`` in the browser (Slack still tells the interactions endpoint it was pressed)."""
    return {"type": "button", "action_id": _OPEN, "text": {"type": "plain_text", "text": link.label}, "url": link.url}


def _button(escalation_id: str, action: PageAction) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"tocsin_{action.value}",
        "text": {"type": "plain_text", "text": action.label},
        "value": json.dumps({"escalation": escalation_id, "action": action.value}),
    }
    if action is PageAction.ACKNOWLEDGE:
        button["style"] = "primary"
    return button


class SlackSender:
    """Posts pages with one Web API client per event loop (opened on first use, closed by ``aclose``)."""

    def __init__(self, settings: SlackSettings) -> None:
        self._settings = settings
        self._token = _env(settings.token_env, "the bot token")
        self._client: AsyncWebClient | None = None
        self._loop: object = None

    def endpoint(self, notification: Notification) -> str:
        """The member or channel the page is posted to."""
        contact = notification.recipient.contact
        return contact.destination if isinstance(contact, SlackContact) else notification.recipient.address

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """``chat.postMessage`` once; the result says whether the outbox should try again."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        where = self.endpoint(notification)
        try:
            answer = await self._open().chat_postMessage(
                channel=where, text=page_subject(notification), blocks=page_blocks(notification)
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
            return DeliveryResult(
                key=notification.key,
                ok=False,
                detail=f"Slack chat.postMessage to {where}: HTTP {status}, {error or 'no error named'}",
                retryable=status == 429 or status >= 500 or error in _RETRIED,
                retry_after=float(retry_after) if retry_after and str(retry_after).isdigit() else None,
            )
        except (SlackClientError, OSError, TimeoutError) as exc:
            return DeliveryResult(key=notification.key, ok=False, detail=f"Slack chat.postMessage to {where}: {exc}")
        return DeliveryResult(key=notification.key, ok=True, detail=f"posted to {where} (ts {answer.get('ts')})")

    def _open(self) -> AsyncWebClient:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = _client(self._settings, self._token)  # a session belongs to one event loop
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the client's HTTP session."""
        import asyncio

        if self._client is not None and self._loop is asyncio.get_running_loop() and self._client.session:
            await self._client.session.close()
        self._client = None


def _person(member: str, settings: SlackSettings, responder: Responder) -> str | None:
    """The tocsin user a Slack member is: by their slack contact, else by ``channels.slack.users``."""
    for address, user in responder.users.items():
        if any(isinstance(contact, SlackContact) and contact.user == member for contact in user.contacts):
            return address
    return settings.users.get(member)


def _read(request: InboundRequest) -> dict[str, Any]:
    """The interaction payload of a form-encoded body; 400 when it is not one."""
    try:
        (text,) = parse_qs(request.body.decode("utf-8"), strict_parsing=True)["payload"]
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, KeyError):
        raise InteractionRefused(400, "expected a form body with one 'payload' field of JSON") from None
    if not isinstance(payload, dict):
        raise InteractionRefused(400, "the payload is not a JSON object")
    return payload


async def interactions(request: InboundRequest, settings: SlackSettings, responder: Responder) -> InboundAnswer:
    """Answer Slack's ``block_actions`` callback: verify it, act once, update the message."""
    from slack_sdk.signature import Clock, SignatureVerifier

    class _Now(Clock):
        def now(self) -> float:
            return request.now.timestamp()

    try:
        secret = _env(settings.signing_secret_env, "the signing secret")
    except LookupError as exc:
        raise InteractionRefused(404, str(exc)) from None
    if not SignatureVerifier(secret, clock=_Now()).is_valid_request(request.body, dict(request.headers)):
        raise InteractionRefused(401, "the Slack signature is missing, wrong, or more than 5 minutes off")
    payload = _read(request)
    actions = payload.get("actions")
    if payload.get("type") != "block_actions" or not isinstance(actions, list) or not actions:
        return InboundAnswer(body=b"{}")  # nothing tocsin asked for
    if isinstance(actions[0], dict) and actions[0].get("action_id") == _OPEN:
        return InboundAnswer(body=b"{}")  # the browser opened the link; there is nothing to do here
    try:
        value = json.loads(actions[0]["value"])
        escalation_id, action = str(value["escalation"]), PageAction(value["action"])
        member = str(payload["user"]["id"])
    except (KeyError, TypeError, ValueError):
        raise InteractionRefused(400, "the action is not one of tocsin's buttons") from None
    person = _person(member, settings, responder)
    if person is None:
        await _reply(payload, settings, f"Slack member {member} is not a tocsin user: nothing was changed.")
        raise InteractionRefused(403, f"Slack member {member} is not mapped to a tocsin user")
    expires = datetime.fromtimestamp(request.now.timestamp() + _REPLAY_WINDOW, UTC)
    once = OneTimeKey(key=f"slack:{request.headers['x-slack-signature']}", expires_at=expires)
    outcome = await responder.act(escalation_id, action, by=person, once=once)
    if outcome.status is ActionStatus.USED:
        raise InteractionRefused(401, "this Slack request was handled before (a replay): nothing was changed")
    if outcome.done:
        await _update(payload, settings, outcome)
    else:
        await _reply(payload, settings, outcome.message)
    return InboundAnswer(body=b"{}")


async def _update(payload: dict[str, Any], settings: SlackSettings, outcome: ActionOutcome) -> None:
    """``chat.update`` the message the button was on: what happened, and the buttons that still make sense."""
    container = payload.get("container") or {}
    channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (payload.get("message") or {}).get("ts")
    if not channel or not ts:
        return
    blocks = (payload.get("message") or {}).get("blocks") or []
    kept = [block for block in blocks if block.get("type") != "actions"]
    kept.append({"type": "section", "text": {"type": "mrkdwn", "text": f":white_check_mark: {_text(outcome.message)}"}})
    elements = [_button(outcome.escalation_id, action) for action in _AFTER.get(outcome.action, ())]
    elements += [  # the button that opens the incident stays
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element.get("action_id") == _OPEN
    ]
    if elements:
        kept.append({"type": "actions", "elements": elements})
    try:
        client = _client(settings, _env(settings.token_env, "the bot token"))
        try:
            await client.chat_update(channel=channel, ts=ts, text=outcome.message, blocks=kept)
        finally:
            await client.session.close()  # type: ignore[union-attr]
    except Exception as exc:  # the action is done either way; the message keeps its buttons
        _log.warning("slack chat.update failed", channel=channel, error=f"{type(exc).__name__}: {exc}")


async def _reply(payload: dict[str, Any], settings: SlackSettings, text: str) -> None:
    """Tell the person who pressed the button, and only them (the interaction's ``response_url``)."""
    url = payload.get("response_url")
    if not isinstance(url, str) or not url:
        return
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    from tocsin.delivery.webhook.post import make_session

    session = make_session(settings.allow_networks)
    try:
        await AsyncWebhookClient(url, session=session).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except Exception as exc:
        _log.warning("slack reply failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        await session.close()


def create(settings: SlackSettings) -> SlackSender:
    """A sender for ``settings`` (``LookupError`` naming the variable when the bot token is unset)."""
    return SlackSender(settings)


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``slack``: Block Kit buttons instead of action links (the link that opens the incident is a button
    too), and the interactions endpoint."""
    register(SlackContact, create=create, settings=SlackSettings, interactions=interactions)
