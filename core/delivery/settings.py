"""The config's ``delivery`` section: how the outbox retries, and how long one attempt and one claim last.

```yaml
delivery:
  max_attempts: 8        # attempts in all, the first included; then the notification is dead-lettered
  base_seconds: 5        # the longest first wait; doubles after each failure ...
  cap_seconds: 300       # ... up to this (which also caps a receiver's Retry-After)
  timeout_seconds: 30    # one attempt may take this long
  lease_seconds: 60      # a claimed notification may be claimed again this long after (a crashed sender)
  rate_limits:           # per channel: at most so many messages to one contact in a window (see ratelimit)
    email: {messages: 5, minutes: 10}
```
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from tocsin.delivery.ratelimit import RateLimit
from tocsin.delivery.retry import RetryPolicy
from tocsin.models import FieldError
from tocsin.registry import Registry
from tocsin.validators import at_least, positive

__all__ = ["DeliverySettings", "check_rate_limits"]


@attrs.frozen(kw_only=True)
class DeliverySettings:
    """The ``delivery`` section: how the outbox retries, and how long one attempt and one claim last."""

    # The validators of RetryPolicy, on these fields, so that ``tocsin check`` reports each wrong one at once.
    max_attempts: int = attrs.field(default=8, validator=at_least(1))
    base_seconds: float = attrs.field(default=5.0, validator=positive)
    cap_seconds: float = attrs.field(default=300.0, validator=positive)
    timeout_seconds: float = attrs.field(default=30.0, validator=positive)
    lease_seconds: float | None = attrs.field(default=None, validator=positive)
    rate_limits: dict[str, RateLimit] = attrs.field(factory=dict)  # channel name -> its limit per contact

    def __attrs_post_init__(self) -> None:
        self.retry_policy()  # the same checks as RetryPolicy, reported on this section's fields
        if self.lease_seconds is not None and self.lease_seconds <= self.timeout_seconds:
            raise FieldError(
                "lease_seconds",
                f"must be more than timeout_seconds ({self.timeout_seconds:g}), got {self.lease_seconds:g}: "
                "a claim must outlast the attempt it covers",
            )

    def retry_policy(self) -> RetryPolicy:
        """The backoff these settings describe."""
        return RetryPolicy(base_seconds=self.base_seconds, cap_seconds=self.cap_seconds, max_attempts=self.max_attempts)

    @property
    def lease(self) -> float:
        """Seconds a claim holds: ``lease_seconds``, or ``timeout_seconds`` plus 30."""
        return self.lease_seconds if self.lease_seconds is not None else self.timeout_seconds + 30.0


def check_rate_limits(settings: DeliverySettings, registry: Registry) -> Iterator[tuple[str, str]]:
    """Config check of ``delivery.rate_limits``: each names a registered channel."""
    for channel in settings.rate_limits:
        if channel not in registry.channels:
            yield f"$.delivery.rate_limits[{channel!r}]", registry.channels.unknown_message(channel)
