"""Notification channels resolved to senders, once, from the registry and the config's settings.

A channel plugin registers a contact class (its ``type`` tag is the channel name), ``create(settings)`` and
an optional settings class. The ``playbook`` channel is the outbox's own: it runs the config's playbooks (see
:mod:`tocsin.delivery.playbooks`). :class:`ChannelSet` creates each sender the first time it is needed and keeps
it; a channel whose settings are missing or broken becomes a :class:`ChannelError` for the notifications
sent through it (recorded as failed deliveries), never an exception in the escalation timer.

A sender may have a lifecycle: ``async start()`` (open a session, log in) and ``async close()``. The outbox
starts the senders of the channels a config uses when it starts, any other sender before its first delivery,
and closes every started sender when it shuts down: a sender keeps one session for its life. A sender whose
start fails is started again before its next delivery; the delivery in between fails and is retried.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from tocsin.delivery.playbooks import PLAYBOOK_CHANNEL, PlaybookSender
from tocsin.errors import TocsinError
from tocsin.models import ContactSpec, DeliveryResult, Notification, PlaybookSpec, User
from tocsin.registry import Registry, UnknownNameError

__all__ = [
    "DEFAULT_CHANNEL",
    "ChannelError",
    "ChannelSet",
    "ChannelStartError",
    "Sender",
    "channels_used",
    "check_channel_settings",
]

DEFAULT_CHANNEL = "log"  # how a person without contacts (or an unknown notify channel) is reached


@runtime_checkable
class Sender(Protocol):
    """Delivers notifications through one channel. ``create(settings)`` of a channel plugin returns one.

    A sender may also have ``endpoint(notification) -> str``: where the notification goes (a URL), used to
    give each endpoint its own queue and to disable one that answered "gone"; without it, the recipient's
    address is the endpoint. And it may have ``async start()`` and ``async close()``, awaited by the outbox
    when it starts and when it shuts down (see the module's docs).
    """

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Send ``notification``; return ``ok=True`` only when the channel confirmed it, else the reason (with
        ``retryable=False`` when another attempt cannot help, ``gone=True`` for an endpoint that is gone)."""
        ...


class ChannelError(TocsinError):
    """A channel cannot send: unknown, or its settings are missing or invalid."""


class ChannelStartError(ChannelError):
    """A sender's ``start()`` failed: it is started again before its next delivery (the failure may pass)."""


class ChannelSet:
    """Senders by channel name.

    :param settings: channel name -> settings object (``Config.channels``).
    :param senders: senders to use instead of creating them (a test double for one channel).
    :param every_channel: one sender for every channel: simulations record instead of delivering.
    :param expected: the channels to start when the outbox starts (those a config uses: :func:`channels_used`).
    :param playbooks: playbook id -> settings (``Config.playbooks``), run through the ``playbook`` channel.
    """

    def __init__(
        self,
        registry: Registry,
        settings: Mapping[str, Any] | None = None,
        *,
        senders: Mapping[str, Sender] | None = None,
        every_channel: Sender | None = None,
        expected: Iterable[str] = (),
        playbooks: Mapping[str, PlaybookSpec] | None = None,
    ) -> None:
        self._registry = registry
        self._settings = dict(settings or {})
        self._playbooks = dict(playbooks or {})
        self._senders: dict[str, Sender] = dict(senders or {})
        self._every = every_channel
        self._broken: dict[str, str] = {}
        self._expected = tuple(dict.fromkeys(expected))
        self._started: dict[int, Sender] = {}  # id(sender) -> sender, for each sender started and not closed

    def sender(self, channel: str) -> Sender:
        """The sender for ``channel``, created on first use; ``ChannelError`` says why there is none."""
        if self._every is not None:
            return self._every
        sender = self._senders.get(channel)
        if sender is not None:
            return sender
        if channel in self._broken:
            raise ChannelError(self._broken[channel])
        try:
            sender = self._create(channel)
        except ChannelError as exc:
            self._broken[channel] = str(exc)
            raise
        self._senders[channel] = sender
        return sender

    def shows_links(self, channel: str) -> bool:
        """Whether messages of ``channel`` show a page's action links (as its plugin registered it)."""
        return channel in self._registry.channels and self._registry.channels.get(channel).links

    def settings_for(self, channel: str) -> Any:
        """The settings of ``channel``: the config's, else its settings class's defaults (None for a channel
        that takes none); ``ChannelError`` when it is unknown or needs settings the config does not give."""
        try:
            entry = self._registry.channels.get(channel)
        except UnknownNameError as exc:
            raise ChannelError(str(exc)) from None
        if entry.settings is None:
            return None
        settings = self._settings.get(channel)
        if settings is None:
            settings = _default_settings(entry.settings)
            if settings is None:
                raise ChannelError(f"channel {channel!r} needs settings in the config's channels.{channel} section")
        return settings

    def _create(self, channel: str) -> Sender:
        if channel == PLAYBOOK_CHANNEL:
            return PlaybookSender(self._registry, self._playbooks)
        settings = self.settings_for(channel)
        entry = self._registry.channels.get(channel)
        try:
            sender: Sender = entry.create(settings)
        except Exception as exc:
            raise ChannelError(f"channel {channel!r} could not start: {type(exc).__name__}: {exc}") from None
        return sender

    async def started(self, channel: str) -> Sender:
        """The sender for ``channel``, its ``start()`` awaited first if it has one and was not started yet.

        :raises ChannelError: no sender (:class:`ChannelStartError` when its ``start()`` failed: try later).
        """
        sender = self.sender(channel)
        if id(sender) not in self._started:
            start = getattr(sender, "start", None)
            if start is not None:
                try:
                    await start()
                except Exception as exc:
                    raise ChannelStartError(
                        f"channel {channel!r} could not start: {type(exc).__name__}: {exc}"
                    ) from None
            self._started[id(sender)] = sender
        return sender

    async def start(self) -> None:
        """Create and start the senders of the expected channels; one that cannot start is logged and started
        again before its first delivery."""
        from tocsin.logs import get_logger

        for channel in self._expected:
            try:
                await self.started(channel)
            except ChannelError as exc:
                get_logger(component="channels").warning("channel not started", channel=channel, detail=str(exc))

    async def close(self) -> None:
        """Close every started sender that has ``close()`` (HTTP sessions and the like), each once."""
        started, self._started = self._started, {}
        for sender in started.values():
            close = getattr(sender, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result


def channels_used(users: Mapping[str, User], notify_channels: Mapping[str, ContactSpec] | None = None) -> list[str]:
    """The channels a config's contacts use (each once, in order): those the outbox starts when it starts."""
    used = [contact.type for user in users.values() for contact in user.contacts]
    used.extend(contact.type for contact in (notify_channels or {}).values())
    return list(dict.fromkeys(used))


def _default_settings(settings_class: type) -> Any:
    try:
        return settings_class()
    except TypeError:
        return None


def check_channel_settings(
    users: Mapping[str, User],
    notify_channels: Mapping[str, ContactSpec],
    settings: Mapping[str, Any],
    registry: Registry,
) -> Iterator[tuple[str, str]]:
    """Config check: every channel a contact uses must have settings, unless its settings have defaults.

    :param settings: channel name -> settings object (the config's ``channels`` section).
    """
    needed: dict[str, str] = {}  # channel -> first path that uses it
    for address, user in users.items():
        for index, contact in enumerate(user.contacts):
            needed.setdefault(contact.type, f"$.users[{address!r}].contacts[{index}]")
    for name, contact in notify_channels.items():
        needed.setdefault(contact.type, f"$.notify_channels[{name!r}]")
    for channel, path in needed.items():
        if channel not in registry.channels or channel in settings:
            continue
        settings_class = registry.channels.get(channel).settings
        if settings_class is not None and _default_settings(settings_class) is None:
            yield path, f"channel {channel!r} needs settings: add a channels.{channel} section"
