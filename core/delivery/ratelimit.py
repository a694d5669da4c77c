"""Rate limits per contact: at most so many messages to one contact in a sliding window, the rest folded into
one summary message instead of being dropped.

```yaml
delivery:
  rate_limits:
    email: {messages: 5, minutes: 10}   # per contact (an address, a URL, a chat) of the channel
```

The outbox asks the store for a slot before each first attempt (``take_slot``): the store counts what the
contact was sent in the window and either records the send or *folds* the page (status ``folded``, journalled
as ``rate_limited`` on its escalation, kept for the contact). When a slot frees, the outbox has the store
make one summary message of everything folded for the contact (``summarize``), which takes that slot and goes
out like any page. A folded page whose escalation has ended meanwhile (its incident resolved, cancelled or
reassigned) is left out of the summary; when that leaves nothing, no summary is sent and the slot stays free.
Both are store transactions, so a restart neither resets a window nor loses a folded page, and instances sharing
a store share each contact's window.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from tocsin.models import FoldedPage, Notification
from tocsin.store.interfaces import DeliveryStore
from tocsin.validators import at_least, positive

__all__ = ["ContactWindows", "RateLimit", "summary_notification"]


@attrs.frozen(kw_only=True)
class RateLimit:
    """At most ``messages`` messages to one contact of a channel in any ``minutes`` minutes."""

    messages: int = attrs.field(validator=at_least(1))
    minutes: float = attrs.field(validator=positive)

    @property
    def seconds(self) -> float:
        """The window in seconds."""
        return self.minutes * 60.0


def summary_notification(folded: Sequence[Notification], now: datetime) -> Notification:
    """One message carrying the pages ``folded`` (all to one contact, oldest first), due ``now``; its key is
    made from the first page's, so one summary is made of each group however often this is called."""
    first = folded[0]
    pages = tuple(
        FoldedPage(
            key=page.key,
            incident_id=page.incident_id,
            escalation_id=page.escalation_id,
            title=page.incident.title if page.incident is not None else page.incident_id,
            severity=page.incident.severity if page.incident is not None else None,
            level=page.level,
            pass_number=page.pass_number,
            due_at=page.due_at,
        )
        for page in folded
    )
    return Notification(
        key=f"summary/{first.key}",
        incident_id="",
        policy_id="",
        pass_number=0,
        level=-1,
        recipient=first.recipient,
        due_at=now,
        fired_at=now,
        folded=pages,
    )


class ContactWindows:
    """The outbox's side of rate limits: which store operation a page's first attempt runs, and the summaries
    that are due.

    :param limits: channel name -> its limit per contact (the ``delivery.rate_limits`` section).
    :param still_open: ``still_open(incident_id, escalation_id)``: whether that escalation is still the incident's
        open one (its folded pages are still worth sending); None: every folded page is.
    """

    def __init__(
        self,
        store: DeliveryStore,
        limits: Mapping[str, RateLimit],
        still_open: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._store = store
        self._limits = dict(limits)
        self._still_open = still_open

    def slot(self, notification: Notification, endpoint: str, now: datetime) -> Callable[[], datetime | None] | None:
        """The store operation that takes a slot for ``notification`` at ``endpoint`` (it returns None, or when the
        summary that carries the folded page goes); None when the channel has no limit, or for a summary, which
        holds its slot from the start."""
        limit = self._limits.get(notification.recipient.channel)
        if limit is None or notification.folded:
            return None
        return functools.partial(
            self._store.take_slot, notification, endpoint, now=now, limit=limit.messages, window_seconds=limit.seconds
        )

    def summaries(self, now: datetime) -> list[Notification]:
        """Make the summary of each contact whose folded pages may go now (each holds a slot of its window); a
        contact whose slot another sender took meanwhile waits for the next one."""
        made: list[Notification] = []
        for channel, endpoint in self._store.due_summaries(now):
            limit = self._limits.get(channel)  # None: the limit was lifted since; the summary goes at once
            summary = self._store.summarize(
                channel,
                endpoint,
                now=now,
                limit=limit.messages if limit is not None else None,
                window_seconds=limit.seconds if limit is not None else 0.0,
                build=self._summary,
            )
            if summary is not None:
                made.append(summary)
        return made

    def _summary(self, folded: Sequence[Notification], now: datetime) -> Notification | None:
        """The summary of the folded pages whose escalation is still open; None when none is."""
        still_open = self._still_open
        if still_open is not None:
            folded = [page for page in folded if still_open(page.incident_id, page.escalation_id)]
        return summary_notification(folded, now) if folded else None
