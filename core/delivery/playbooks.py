"""Playbook runs: the outbox's ``playbook`` channel, which hands each queued run to its playbook's runner.

A routing rule's ``apply_playbook`` names a playbook of the config's ``playbooks`` section. The incident processor
queues the run in the outbox, in the transaction that saves the incident, as a notification on the ``playbook``
channel keyed ``<incident id>/playbook/<playbook id>``. From there a run goes out like a page: claimed with a
lease, retried with backoff, dead-lettered when nothing can help, at most once per key across restarts and
instances, and never on the event loop's time (routing only queues it). :class:`PlaybookSender` is that channel's
sender: it creates each playbook's runner through the registry once, on its first run, and hands it a
:class:`~tocsin.models.PlaybookRun`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from tocsin.models import DeliveryResult, Notification, PlaybookRun, PlaybookSpec, Recipient
from tocsin.registry import PLAYBOOK_CHANNEL, Registry

__all__ = ["PLAYBOOK_CHANNEL", "PlaybookRunner", "PlaybookSender", "playbook_key", "playbook_recipient"]


@runtime_checkable
class PlaybookRunner(Protocol):
    """Runs one playbook: what a playbook type's ``create(settings)`` returns.

    It may also have ``endpoint(request) -> str``, where the run goes (each endpoint has its own queue in the
    outbox, and one that answers "gone" is disabled), and ``async close()``, awaited when the outbox closes.
    """

    async def run(self, request: PlaybookRun) -> DeliveryResult:
        """Start the playbook for ``request.incident``; ``ok=True`` only when the automation accepted the run, else
        the reason (``retryable=False`` when another attempt cannot help)."""
        ...


def playbook_key(incident_id: str, playbook_id: str) -> str:
    """The outbox key of the run of ``playbook_id`` for ``incident_id``: one run per incident and playbook."""
    return f"{incident_id}/playbook/{playbook_id}"


def playbook_recipient(playbook_id: str) -> Recipient:
    """Who a run of ``playbook_id`` is addressed to: the playbook, on the ``playbook`` channel."""
    return Recipient(address=playbook_id, channel=PLAYBOOK_CHANNEL, target=PLAYBOOK_CHANNEL)


class PlaybookSender:
    """The ``playbook`` channel's sender: each run to the runner of the playbook it names.

    :param registry: the playbook types (``registry.playbooks``).
    :param playbooks: playbook id -> settings (the config's ``playbooks`` section).
    """

    def __init__(self, registry: Registry, playbooks: Mapping[str, PlaybookSpec]) -> None:
        self._registry = registry
        self._playbooks = dict(playbooks)
        self._runners: dict[str, Any] = {}
        self._broken: dict[str, str] = {}

    def endpoint(self, notification: Notification) -> str:
        """Where the run goes: the runner's endpoint (a URL), else the playbook's own queue."""
        playbook_id = notification.recipient.address
        runner = self._runner(playbook_id)
        locate = getattr(runner, "endpoint", None)
        return str(locate(_request(notification))) if locate is not None else f"playbook:{playbook_id}"

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Run the playbook the notification names; a playbook the config no longer defines, or whose runner cannot
        start, is a permanent failure."""
        playbook_id = notification.recipient.address
        runner = self._runner(playbook_id)
        if runner is None:
            return DeliveryResult(key=notification.key, ok=False, retryable=False, detail=self._broken[playbook_id])
        result = await runner.run(_request(notification))
        if not isinstance(result, DeliveryResult):
            return DeliveryResult(
                key=notification.key,
                ok=False,
                detail=f"playbook {playbook_id!r} returned {result!r} instead of a DeliveryResult",
            )
        return result

    async def close(self) -> None:
        """Close every runner that has an ``async close()`` (the outbox awaits this at shutdown, as for any
        sender)."""
        for runner in self._runners.values():
            close = getattr(runner, "close", None)
            if close is not None:
                await close()

    def _runner(self, playbook_id: str) -> Any:
        runner = self._runners.get(playbook_id)
        if runner is not None or playbook_id in self._broken:
            return runner
        settings = self._playbooks.get(playbook_id)
        if settings is None:
            known = ", ".join(sorted(self._playbooks)) or "(none)"
            self._broken[playbook_id] = f"playbook {playbook_id!r} is not in the config's playbooks; known: {known}"
            return None
        try:
            runner = self._registry.playbooks.get(settings.type).create(settings)
        except Exception as exc:
            self._broken[playbook_id] = f"playbook {playbook_id!r} could not start: {type(exc).__name__}: {exc}"
            return None
        self._runners[playbook_id] = runner
        return runner


def _request(notification: Notification) -> PlaybookRun:
    return PlaybookRun(
        playbook_id=notification.recipient.address,
        key=notification.key,
        incident=notification.incident,
        incident_id=notification.incident_id,
        requested_at=notification.fired_at or notification.due_at,
    )
