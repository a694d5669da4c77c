"""tocsin_acme: page people by SMS through ACME's gateway.

- its settings, the config's ``plugins.acme`` section: the gateway, the country code, the desks' handoff hours;
- the ``acme_sms`` target, ``{type: acme_sms, number: "7700 900900"}``: page a phone number;
- the ``acme_desks`` rotation: the pager follows the sun around ACME's desks, each desk with its own people;
- the ``acme_sms`` channel, ``{type: acme_sms, number: ...}`` in a user's contacts: one SMS per page, sent
  through one HTTP session to the gateway for the sender's whole life;
- an observer that logs every SMS the gateway refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs

import tocsin
from tocsin.delivery.webhook.post import OutcomeKind, make_session, post_json, redact_url
from tocsin.delivery.webhook.ssrf import validate_networks
from tocsin.logs import get_logger
from tocsin.rotation import DailyWindows, Rotation, Shifts, TimesOfDay
from tocsin.validators import http_url, non_empty, positive
from tocsin.wallclock import HOUR

_log = get_logger(plugin="acme")


def _country_code(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not (value.startswith("+") and value[1:].isdigit()):
        raise tocsin.FieldError(attribute.name, f"needs '+' and digits, such as +44, got {value!r}")


def _hours(instance: Any, attribute: attrs.Attribute, desks: dict[str, int]) -> None:
    taken: dict[int, str] = {}
    for desk, hour in desks.items():
        if not 0 <= hour <= 23:
            raise tocsin.FieldError(f"desks.{desk}", f"must be between 0 and 23, got {hour}")
        if hour in taken:
            raise tocsin.FieldError(f"desks.{desk}", f"desk {taken[hour]!r} takes over at {hour}:00 too")
        taken[hour] = desk


@attrs.frozen(kw_only=True)
class AcmeSettings:
    """The ``plugins.acme`` section: every field has a default, so a config may leave it out."""

    gateway: str = attrs.field(default="https://sms.acme.example/v1/messages", validator=http_url)
    country_code: str = attrs.field(default="+1", validator=_country_code)
    desks: dict[str, int] = attrs.field(factory=lambda: {"apac": 22, "emea": 6, "amer": 14}, validator=_hours)
    allow_networks: tuple[str, ...] = attrs.field(default=(), validator=validate_networks)
    timeout_seconds: float = attrs.field(default=10.0, validator=positive)


def phone(number: str, settings: AcmeSettings) -> str:
    """``number`` in E.164: its digits, after the configured country code unless it has one."""
    digits = "".join(char for char in number if char.isdigit())
    return f"+{digits}" if number.startswith("+") else f"{settings.country_code}{digits}"


# --- the acme_sms target -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AcmeSms:
    """``{type: acme_sms, number: "7700 900900"}``: page a phone number (a duty phone, a desk)."""

    type: ClassVar[str] = "acme_sms"
    number: str = attrs.field(validator=non_empty)


def expand(target: AcmeSms, ctx: tocsin.ExpandContext, *, plugin_settings: AcmeSettings) -> list[tocsin.Recipient]:
    """When the level fires: one recipient, the number, on the ``acme_sms`` channel."""
    return [tocsin.Recipient(address=phone(target.number, plugin_settings), channel="acme_sms", target=AcmeSms.type)]


def check_number(target: AcmeSms, config: tocsin.Config, *, plugin_settings: AcmeSettings) -> Iterator[str]:
    """When the config loads: ACME sends to its own country only."""
    if not phone(target.number, plugin_settings).startswith(plugin_settings.country_code):
        yield f"ACME sends to {plugin_settings.country_code} numbers, got {target.number!r}"


# --- the acme_desks rotation -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AcmeDesks:
    """``{type: acme_desks, people: {emea: [...], amer: [...]}}``: each desk holds the pager from its hour (the
    plugin's ``desks``) until the next desk's; at each desk, its people take one day each in turn."""

    type: ClassVar[str] = "acme_desks"
    people: dict[str, tuple[str, ...]] = attrs.field(validator=non_empty)

    def chooses_from(self) -> tuple[str, ...]:
        """Everyone on a desk: people the config knows (overrides, swaps and reassigning may name them)."""
        return tuple(person for people in self.people.values() for person in people)


@attrs.frozen
class DeskShifts:
    """The day's windows, one per desk, and who holds each: that desk's person of the day."""

    windows: DailyWindows
    people: tuple[tuple[str, ...], ...]  # by time of day

    def index(self, wall: int) -> int:
        return self.windows.index(wall)

    def handoff(self, index: int) -> int:
        return self.windows.handoff(index)

    def holder(self, index: int) -> str:
        day, desk = divmod(self.windows.window(index), len(self.people))
        people = self.people[desk]
        return people[day % len(people)]


@attrs.frozen
class Desks:
    times: TimesOfDay
    people: tuple[tuple[str, ...], ...]

    def first_handoff(self, at_or_after: int) -> int:
        return self.times.first_handoff(at_or_after)

    def anchor(self, start: int) -> Shifts:
        return DeskShifts(self.times.anchor(start), self.people)


def compile_desks(rotation: AcmeDesks, *, plugin_settings: AcmeSettings) -> Rotation:
    """The desks in the order of their hours; a desk the settings do not know is a fault of the rotation."""
    hours = plugin_settings.desks
    for desk in rotation.people:
        if desk not in hours:
            raise ValueError(f"unknown desk {desk!r}; known: {', '.join(sorted(hours))}")
    staffed = sorted((hours[desk] * HOUR, tuple(people)) for desk, people in rotation.people.items())
    return Desks(TimesOfDay(tuple(hour for hour, _ in staffed)), tuple(people for _, people in staffed))


def check_desks(rotation: AcmeDesks, config: tocsin.Config) -> Iterator[str]:
    """When the config loads: everyone on a desk can be reached by SMS."""
    for people in rotation.people.values():
        for person in people:
            user = config.users.get(person)
            if user is None or not any(isinstance(contact, AcmeSmsContact) for contact in user.contacts):
                yield f"{person} has no acme_sms contact"


# --- the acme_sms channel ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AcmeSmsContact:
    """``{type: acme_sms, number: "7700 900001"}`` in a user's contacts."""

    type: ClassVar[str] = "acme_sms"
    number: str = attrs.field(validator=non_empty)
    urgencies: tuple[tocsin.Urgency, ...] = tocsin.urgencies_field()


class AcmeSender:
    """One SMS per page through the gateway; the HTTP session is opened by ``start()`` and closed by ``close()``,
    which the outbox awaits when it starts and when it shuts down."""

    def __init__(self, settings: AcmeSettings) -> None:
        self._settings = settings
        self._session: Any = None

    async def start(self) -> None:
        self._session = make_session(self._settings.allow_networks)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, notification: tocsin.Notification) -> tocsin.DeliveryResult:
        contact = notification.recipient.contact  # a user's acme_sms contact; None for an acme_sms target
        number = phone(contact.number, self._settings) if contact is not None else notification.recipient.address
        body = json.dumps({"to": number, "text": tocsin.page_subject(notification)}).encode()
        outcome = await post_json(
            self._session,
            self._settings.gateway,
            body,
            message_id="msg_" + hashlib.sha256(notification.key.encode()).hexdigest()[:32],
            secrets=None,  # the gateway authenticates by network; None, never [], sends unsigned
            timeout=self._settings.timeout_seconds,
            now=datetime.now(UTC),
        )
        return tocsin.DeliveryResult(
            key=notification.key,
            ok=outcome.delivered,
            detail=outcome.reason,
            retryable=outcome.kind is OutcomeKind.RETRY,
            retry_after=outcome.retry_after,
            gone=outcome.kind is OutcomeKind.GONE,
        )


def create_sender(settings: None, *, plugin_settings: AcmeSettings) -> AcmeSender:
    """The channel has no ``channels.acme_sms`` section (``settings`` is None): it is set up by ``plugins.acme``."""
    return AcmeSender(plugin_settings)


# --- the hooks -------------------------------------------------------------------------------------------


@tocsin.hookimpl
def tocsin_register_settings(register: tocsin.SettingsRegistrar) -> None:
    register(AcmeSettings)


@tocsin.hookimpl
def tocsin_register_targets(register: tocsin.TargetRegistrar) -> None:
    register(AcmeSms, expand=expand, check=check_number)


@tocsin.hookimpl
def tocsin_register_rotations(register: tocsin.RotationRegistrar) -> None:
    register(AcmeDesks, compile=compile_desks, check=check_desks)


@tocsin.hookimpl
def tocsin_register_channels(register: tocsin.ChannelRegistrar) -> None:
    register(AcmeSmsContact, create=create_sender)


@tocsin.hookimpl
def tocsin_notification_failed(
    notification: tocsin.Notification, result: tocsin.DeliveryResult, plugin_settings: AcmeSettings
) -> None:
    if notification.recipient.channel == "acme_sms":
        _log.warning("sms failed", gateway=redact_url(plugin_settings.gateway), detail=result.detail)
