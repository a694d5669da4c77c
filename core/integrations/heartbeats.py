"""Heartbeat monitors, the data side: the config's ``heartbeats`` section (a dead man's switch, as GoAlert has).

```yaml
heartbeats:
  nightly-backup:
    interval: 25h                      # no ping for this long opens an incident
    token_env: BACKUP_HEARTBEAT_TOKEN  # or token: (16+ characters); the job pings with it
    incident: {title: "Nightly backup did not check in", severity: P2, labels: {team: db}}
```

The job pings ``POST /v1/heartbeats/nightly-backup`` with its own token. The applying side (the timer, the
incident it opens, the ping that resolves it) is :mod:`tocsin.intake.heartbeats`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta

import attrs

from tocsin.integrations.events import check_secret_fields, path_name_faults, read_secret
from tocsin.models import IncidentType, Severity
from tocsin.validators import duration, parse_duration

__all__ = ["Heartbeat", "HeartbeatIncident", "check_heartbeats"]


@attrs.frozen(kw_only=True)
class HeartbeatIncident:
    """The incident a missed heartbeat opens (routed and escalated like any other); ``title`` defaults to
    ``Heartbeat NAME missed``."""

    title: str | None = None
    description: str = ""
    severity: Severity = attrs.field(default=Severity.P2, converter=Severity)
    incident_type: IncidentType = attrs.field(default=IncidentType.AVAILABILITY, converter=IncidentType)
    source: str = "heartbeat"
    labels: dict[str, str] = attrs.field(factory=dict)
    assignees: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Heartbeat:
    """One heartbeat monitor: pinged at least every ``interval`` (``<number>(s|m|h|d)``) with its token, or it
    opens ``incident``; the next ping resolves that incident."""

    interval: str = attrs.field(validator=duration)
    token: str | None = attrs.field(default=None, repr=False)
    token_env: str | None = None
    incident: HeartbeatIncident = attrs.field(factory=HeartbeatIncident)

    def __attrs_post_init__(self) -> None:
        check_secret_fields(self.token, self.token_env)

    @property
    def period(self) -> timedelta:
        """``interval`` as a duration."""
        return parse_duration(self.interval)

    def secret(self) -> str:
        """The token a ping must carry; from the environment for ``token_env`` (``LookupError`` when unset)."""
        return read_secret(self.token, self.token_env)


def check_heartbeats(heartbeats: Mapping[str, Heartbeat]) -> Iterator[tuple[str, str]]:
    """Config check of the ``heartbeats`` section: names become URL path segments (``/v1/heartbeats/NAME``)."""
    yield from path_name_faults("heartbeats", "a heartbeat", heartbeats)
