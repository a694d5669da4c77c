"""The whole configuration as one value: people, schedules, policies, rules, and each feature's settings."""

from __future__ import annotations

from typing import Any

import attrs

from tocsin.config.serving import ServerSettings, StorageSettings
from tocsin.delivery.settings import DeliverySettings
from tocsin.escalation.maintenance import MaintenanceSettings
from tocsin.escalation.working_hours import WorkingHours
from tocsin.integrations.events import Integration
from tocsin.integrations.heartbeats import Heartbeat
from tocsin.models import ContactSpec, EscalationPolicy, OnCallSchedule, PlaybookSpec, RoutingRule, User

__all__ = ["Config"]


@attrs.frozen(kw_only=True)
class Config:
    """A whole configuration: people, schedules, policies and rules, plus channel and plugin settings."""

    teams: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    users: dict[str, User] = attrs.field(factory=dict)
    schedules: tuple[OnCallSchedule, ...] = ()
    policies: tuple[EscalationPolicy, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    channels: dict[str, Any] = attrs.field(factory=dict)  # channel name -> that channel's settings object
    plugins: dict[str, Any] = attrs.field(factory=dict)  # plugin name -> that plugin's settings object
    notify_channels: dict[str, ContactSpec] = attrs.field(factory=dict)  # routing notify name -> contact
    integrations: dict[str, Integration] = attrs.field(factory=dict)  # name -> inbound integration
    server: ServerSettings = attrs.field(factory=ServerSettings)  # how ``tocsin serve`` listens, its tokens
    storage: StorageSettings = attrs.field(factory=StorageSettings)  # where ``tocsin serve`` keeps its state
    delivery: DeliverySettings = attrs.field(factory=DeliverySettings)  # outbox retries, timeouts, leases
    working_hours: dict[str, WorkingHours] = attrs.field(factory=dict)  # name -> window (smart escalation levels)
    heartbeats: dict[str, Heartbeat] = attrs.field(factory=dict)  # name -> monitor that must be pinged in time
    maintenance: dict[str, MaintenanceSettings] = attrs.field(factory=dict)  # name -> window holding pages back
    playbooks: dict[str, PlaybookSpec] = attrs.field(factory=dict)  # id -> playbook (routing apply_playbook)

    def schedule(self, schedule_id: str) -> OnCallSchedule | None:
        """The schedule with ``schedule_id``, or None."""
        return next((s for s in self.schedules if s.id == schedule_id), None)

    def policy(self, policy_id: str) -> EscalationPolicy | None:
        """The policy with ``policy_id``, or None."""
        return next((p for p in self.policies if p.id == policy_id), None)

    def people(self) -> frozenset[str]:
        """Everyone the config names: its users, team members, and the people of every schedule's layers and
        overrides (whom an override made at run time may put on call)."""
        found: set[str] = set(self.users)
        for members in self.teams.values():
            found.update(members)
        for schedule in self.schedules:
            for layer in schedule.layers:
                found.update(layer.people)
            found.update(override.user for override in schedule.overrides)
        return frozenset(found)
