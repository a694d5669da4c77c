"""Test helpers for the HTTP API: a real uvicorn server on 127.0.0.1 in its own thread, configs and tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import yaml
from starlette.applications import Starlette

import tocsin
from tocsin.server import Service
from tocsin.server.background import BackgroundServer

T = TypeVar("T")

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
ADMIN = "admin-token-0123456789abcdef"
RESPONDER = "respond-token-0123456789abcdef"
READER = "read-token-0123456789abcdef"

# A config in the shape of examples/tocsin.yaml, with tokens of each scope; tests add channels and users.
CONFIG = f"""
server:
  tokens:
    - {{name: ops-admin, token: {ADMIN}, scopes: [admin]}}
    - {{name: pager-bot, token: {RESPONDER}, scopes: [respond]}}
    - {{name: dashboard, token: {READER}, scopes: [read]}}
  max_body_bytes: 4096
  ack_rate_limit: {{per_minute: 3}}
storage: {{backend: memory}}
teams:
  platform: [eng1@example.com, eng2@example.com]
schedules:
  - id: primary-oncall
    name: Primary On-Call
    timezone: America/New_York
    layers:
      - name: Primary
        users: [engineer1@example.com, engineer2@example.com]
        start: "2026-01-05T09:00:00"
        rotation: {{type: weekly, handoff_day: Monday, handoff_hour: 9}}
policies:
  - id: standard-p1
    name: Standard P1 Escalation
    severity_filter: [P0, P1]
    priority: 10
    levels:
      - {{delay_minutes: 0, targets: [{{type: schedule, schedule_id: primary-oncall}}]}}
      - {{delay_minutes: 5, targets: [{{type: user, email: team-lead@example.com}}]}}
      - {{delay_minutes: 10, targets: [{{type: team, team_id: platform}}]}}
    repeat: {{max_repeats: 1, interval_minutes: 20}}
rules:
  - name: Route Security Incidents
    priority: 100
    conditions:
      - {{field: incident_type, operator: equals, value: Security}}
      - {{field: severity, operator: in, value: [P0, P1]}}
    actions:
      - {{type: assign, assignees: [security-oncall@example.com]}}
      - {{type: add_labels, labels: {{team: security}}}}
"""


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def load(document: str | dict[str, Any], plugins: tocsin.Plugins) -> tocsin.Config:
    """A config from YAML text or an already-parsed document."""
    parsed = yaml.safe_load(document) if isinstance(document, str) else document
    return tocsin.parse_config(parsed, plugins.registry, source="test")


class ServerThread(BackgroundServer):
    """A real server for ``app`` on an ephemeral port of 127.0.0.1 (see ``BackgroundServer``), with a helper
    that moves a manual clock in the server's loop and wakes the timer."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(app)
        self.service: Service = app.state.service

    def advance(self, clock: tocsin.ManualClock, **delta: float) -> None:
        """Move ``clock`` forward and let the timer fire whatever came due."""

        def step() -> None:
            clock.advance(**delta)
            self.service.engine.monitor.wake()

        self.call(step)


async def eventually(check: Callable[[], T], *, within: float = 20.0) -> T:
    """Wait until ``check()`` returns something true (deliveries cross real sockets); fail after ``within``."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within:g}s; last value: {value!r}")
        await asyncio.sleep(0.02)
