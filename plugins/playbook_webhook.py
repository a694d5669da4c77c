"""Playbook type ``webhook``: ask an automation endpoint, by a signed POST, to run a playbook for an incident.

``playbooks: {restart-db: {type: webhook, url: https://automation.example.com/run/restart-db, parameters: {service:
db}}}``. Each run is one Standard Webhooks message: ``webhook-id`` (a stable hash of the run's key, also sent as
``Idempotency-Key``: the same on every retry and after a restart), ``webhook-timestamp`` and, with ``secrets``,
``webhook-signature``. Only 2xx counts as accepted; 5xx, 408, 429 and network faults are retried by the outbox;
410 disables the URL; other answers, redirects and destinations the SSRF policy refuses (private, loopback and
metadata addresses unless in ``allow_networks``) are permanent failures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from tocsin import DeliveryResult, PlaybookRegistrar, PlaybookRun, hookimpl
from tocsin.delivery.webhook.signing import validate_secrets, webhook_id
from tocsin.delivery.webhook.ssrf import validate_networks
from tocsin.incidents import incident_to_json
from tocsin.validators import http_url, positive

if TYPE_CHECKING:
    from tocsin.delivery.webhook.post import LoopSession

PAYLOAD_VERSION = 1


@attrs.frozen(kw_only=True)
class WebhookPlaybook:
    """A playbook run by POSTing the incident to ``url``; ``parameters`` go along in the body as they are."""

    type: ClassVar[str] = "webhook"
    url: str = attrs.field(validator=http_url)
    parameters: dict[str, Any] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = attrs.field(default=(), validator=validate_secrets)
    timeout_seconds: float = attrs.field(default=10.0, validator=positive)
    allow_networks: tuple[str, ...] = attrs.field(default=(), validator=validate_networks)


def run_payload(playbook: WebhookPlaybook, request: PlaybookRun) -> dict[str, Any]:
    """The version-1 body of one run."""
    incident = request.incident
    return {
        "version": PAYLOAD_VERSION,
        "event": "playbook.run",
        "playbook_id": request.playbook_id,
        "idempotency_key": request.key,
        "requested_at": request.requested_at.isoformat(),
        "parameters": playbook.parameters,
        "incident": incident_to_json(incident) if incident is not None else {"id": request.incident_id},
    }


class WebhookPlaybookRunner:
    """Runs one webhook playbook through an SSRF-guarded session of its own (aiohttp is loaded on the first run)."""

    def __init__(self, playbook: WebhookPlaybook) -> None:
        self._playbook = playbook
        self._sessions: LoopSession | None = None

    def endpoint(self, request: PlaybookRun) -> str:
        """The URL runs are POSTed to."""
        return self._playbook.url

    async def run(self, request: PlaybookRun) -> DeliveryResult:
        """POST the run once; the result says whether it was accepted, and if not whether to try again."""
        from tocsin.delivery.webhook.post import LoopSession, post_json

        playbook = self._playbook
        if self._sessions is None:
            self._sessions = LoopSession(playbook.allow_networks)
        message_id = webhook_id(request.key)
        outcome = await post_json(
            self._sessions.get(),
            playbook.url,
            json.dumps(run_payload(playbook, request), ensure_ascii=False).encode("utf-8"),
            message_id=message_id,
            secrets=playbook.secrets or None,
            timeout=playbook.timeout_seconds,
            now=datetime.now(UTC),  # receivers check the signature's timestamp against their real clock
            headers={**playbook.headers, "Idempotency-Key": message_id},
        )
        return outcome.result(request.key, playbook.url)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._sessions is not None:
            await self._sessions.aclose()


def create(playbook: WebhookPlaybook) -> WebhookPlaybookRunner:
    """The runner of ``playbook``."""
    return WebhookPlaybookRunner(playbook)


@hookimpl
def tocsin_register_playbooks(register: PlaybookRegistrar) -> None:
    """Register the ``webhook`` playbook type."""
    register(WebhookPlaybook, create=create)
