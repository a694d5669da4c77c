"""Playbook runs are queued in the outbox with the incident: they survive a restart and run once, a playbook the
config no longer defines or whose runner cannot start fails for good, and plugins register playbook types."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from support.delivery_receiver import Receiver
from support.kernel_plugins import make_plugin

import tocsin
from tocsin.store.sqlite.store import SQLiteStore

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def config_for(plugins: tocsin.Plugins, playbooks: dict[str, Any], playbook_id: str = "restart-db") -> tocsin.Config:
    document = {
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": "oncall@example.com"}]}]}],
        "playbooks": playbooks,
        "rules": [
            {
                "name": "heal",
                "conditions": [{"field": "severity", "operator": "equals", "value": "P1"}],
                "actions": [{"type": "apply_playbook", "playbook_id": playbook_id}],
            }
        ],
    }
    return tocsin.parse_config(document, plugins.registry, source="tocsin.yaml")


def webhook(receiver: Receiver) -> dict[str, Any]:
    return {"type": "webhook", "url": receiver.url("/restart-db"), "allow_networks": ["127.0.0.1/32"]}


class Node:
    """One "process": a SQLite store on the file, an engine and a processor on it."""

    def __init__(self, path: Path, config: tocsin.Config, plugins: tocsin.Plugins) -> None:
        clock = tocsin.ManualClock(START)
        self.store = SQLiteStore(path, plugins.registry, clock=clock)
        self.engine = tocsin.EscalationEngine(plugins, self.store, clock=clock, config=config)
        self.processor = tocsin.IncidentProcessor.from_config(self.engine, config, incidents=self.store.incidents)


async def test_a_queued_run_survives_a_restart_and_is_posted_once(tmp_path, receiver):
    plugins = tocsin.load_plugins()
    config = config_for(plugins, {"restart-db": webhook(receiver)})
    first = Node(tmp_path / "tocsin.db", config, plugins)
    result = first.processor.process(tocsin.Incident(id="inc-1", title="DB down", severity="P1"))
    assert [effect.status for effect in result.actions] == ["queued"]
    first.store.close()  # stopped before the outbox ran: the run is only in the file
    assert receiver.requests == []

    second = Node(tmp_path / "tocsin.db", config, plugins)
    await second.engine.outbox.deliver_due()
    await second.engine.outbox.aclose()
    second.store.close()
    third = Node(tmp_path / "tocsin.db", config, plugins)
    await third.engine.outbox.deliver_due()
    run = third.store.delivery("inc-1/playbook/restart-db")
    third.store.close()

    assert len(receiver.on("/restart-db")) == 1  # once, though three processes looked at it
    assert run is not None and run.status is tocsin.DeliveryStatus.SENT and run.attempts == 1
    assert run.notification.escalation_id == "inc-1#1"  # listed with the escalation's deliveries


async def test_a_run_of_a_playbook_the_config_no_longer_defines_fails_for_good(tmp_path, receiver):
    plugins = tocsin.load_plugins()
    first = Node(tmp_path / "tocsin.db", config_for(plugins, {"restart-db": webhook(receiver)}), plugins)
    first.processor.process(tocsin.Incident(id="inc-1", title="DB down", severity="P1"))
    first.store.close()
    renamed = config_for(plugins, {"restart-database": webhook(receiver)}, "restart-database")
    second = Node(tmp_path / "tocsin.db", renamed, plugins)
    await second.engine.outbox.deliver_due()
    (dead,) = second.store.dead_letters()
    second.store.close()
    assert receiver.requests == []
    assert dead.result is not None and not dead.result.retryable
    assert dead.result.detail == "playbook 'restart-db' is not in the config's playbooks; known: restart-database"


@attrs.frozen(kw_only=True)
class Ticket:
    type: ClassVar[str] = "ticket"
    queue: str


def ticketing(opened: list[tuple[str, str]]) -> Any:
    class Runner:
        def __init__(self, settings: Ticket) -> None:
            if settings.queue == "broken":
                raise ConnectionError("ticket system unreachable")
            self.settings = settings

        async def run(self, request: tocsin.PlaybookRun) -> tocsin.DeliveryResult:
            opened.append((self.settings.queue, request.key))
            return tocsin.DeliveryResult(key=request.key, ok=True, detail="ticket opened")

    def tocsin_register_playbooks(register: tocsin.PlaybookRegistrar) -> None:
        register(Ticket, create=Runner)

    return make_plugin("ticketing", tocsin_register_playbooks=tocsin_register_playbooks)


async def run_ticket_playbook(plugins: tocsin.Plugins, queue: str, incident_id: str) -> tocsin.Delivery | None:
    config = config_for(plugins, {"open-ticket": {"type": "ticket", "queue": queue}}, "open-ticket")
    engine = tocsin.EscalationEngine(plugins, clock=tocsin.ManualClock(START), config=config)
    incident = tocsin.Incident(id=incident_id, title="DB down", severity="P1")
    tocsin.IncidentProcessor.from_config(engine, config).process(incident)
    await engine.outbox.flush()
    return engine.store.delivery(f"{incident_id}/playbook/open-ticket")


async def test_a_plugin_playbook_type_runs_from_the_outbox_and_one_that_cannot_start_is_a_permanent_failure():
    opened: list[tuple[str, str]] = []
    plugins = tocsin.load_plugins(autoload=False, extra=[ticketing(opened)])
    assert plugins.registry.playbooks.entry("ticket").plugin == "ticketing"

    ran = await run_ticket_playbook(plugins, "ops", "inc-1")
    assert ran is not None and ran.status is tocsin.DeliveryStatus.SENT
    assert ran.result is not None and ran.result.detail == "ticket opened"
    broken = await run_ticket_playbook(plugins, "broken", "inc-2")
    assert broken is not None and broken.status is tocsin.DeliveryStatus.DEAD
    assert broken.result is not None and not broken.result.retryable
    assert broken.result.detail == "playbook 'open-ticket' could not start: ConnectionError: ticket system unreachable"
    assert opened == [("ops", "inc-1/playbook/open-ticket")]


def test_a_bad_playbook_in_the_config_is_reported_with_its_path(receiver):
    plugins = tocsin.load_plugins()
    with pytest.raises(tocsin.ConfigError) as caught:
        config_for(
            plugins,
            {
                "restart-db": {"type": "webhook", "url": "ftp://automation.example.com", "timeout_seconds": 0},
                "scale": {"type": "ansible", "job": 7},
                "rotate": {"type": "webhook", "url": "https://a.example.com", "secrets": ["whsec_!!"]},
                "none": None,
            },
        )
    assert [str(issue) for issue in caught.value.issues] == [
        "tocsin.yaml: $.playbooks['restart-db'].url: needs an http:// or https:// URL, got 'ftp://automation.example.com'",
        "tocsin.yaml: $.playbooks['restart-db'].timeout_seconds: must be greater than 0, got 0.0",
        "tocsin.yaml: $.playbooks['scale']: unknown playbook type 'ansible'; known: webhook",
        "tocsin.yaml: $.playbooks['rotate'].secrets[0]: a webhook secret's part after 'whsec_' must be base64",
        "tocsin.yaml: $.playbooks['none']: expected a mapping with a 'type' key; known playbook types: webhook",
    ]


def test_no_channel_plugin_may_take_the_playbook_channel_name():
    @attrs.frozen(kw_only=True)
    class Playbook:
        type: ClassVar[str] = "playbook"

    def tocsin_register_channels(register: tocsin.ChannelRegistrar) -> None:
        register(Playbook, create=lambda settings: None)

    with pytest.raises(tocsin.PluginError, match="channel name 'playbook' is reserved"):
        tocsin.load_plugins(
            autoload=False, extra=[make_plugin("sneaky", tocsin_register_channels=tocsin_register_channels)]
        )
