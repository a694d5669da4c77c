"""When to try a failed delivery again: exponential backoff with full jitter, and ``Retry-After`` parsing.

After the n-th failed attempt the next one waits a random time in ``[0, min(cap, base * 2**(n-1))]`` ("full
jitter": retries from many senders spread out instead of arriving together). A ``Retry-After`` the receiver sent
replaces the random wait. After ``max_attempts`` attempts there is no next one: the message is dead-lettered.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import attrs

from tocsin.models import FieldError
from tocsin.validators import at_least, positive

__all__ = ["RetryPolicy", "parse_retry_after"]

_RNG = random.Random()
_MAX_EXPONENT = 1000  # 2.0**1024 overflows; any exponent this large is past every cap anyway


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry; a plain value, usable as a settings field in a config file.

    ``max_attempts`` counts every attempt, the first included (1 means never retry). ``base_seconds`` is the
    ceiling of the first wait, doubling after each failure up to ``cap_seconds``, the longest wait ever, which
    also caps a receiver's ``Retry-After``.
    """

    base_seconds: float = attrs.field(default=5.0, validator=positive)
    cap_seconds: float = attrs.field(default=300.0, validator=positive)
    max_attempts: int = attrs.field(default=8, validator=at_least(1))

    def __attrs_post_init__(self) -> None:
        if self.cap_seconds < self.base_seconds:
            raise FieldError(
                "cap_seconds", f"must be at least base_seconds ({self.base_seconds}), got {self.cap_seconds}"
            )

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based): ``min(cap, base * 2**(attempt-1))``."""
        if attempt < 1:
            raise ValueError(f"attempts are numbered from 1, got {attempt}")
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt - 1, _MAX_EXPONENT))

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """A full-jitter wait after failed attempt ``attempt``: uniform in ``[0, ceiling(attempt)]``."""
        return (rng or _RNG).uniform(0.0, self.ceiling(attempt))

    def next_delay(
        self, attempts_made: int, *, rng: random.Random | None = None, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when ``attempts_made`` used up ``max_attempts``.

        ``retry_after`` (seconds, from the receiver's ``Retry-After``) replaces the random wait, capped at
        ``cap_seconds``. Pass ``rng`` (a seeded ``random.Random``) for a reproducible schedule.
        """
        if attempts_made < 1:
            raise ValueError(f"attempts_made counts attempts already made (1 or more), got {attempts_made}")
        if attempts_made >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_seconds)
        return self.delay(attempts_made, rng=rng)

    def schedule(self, *, rng: random.Random | None = None) -> tuple[float, ...]:
        """The waits between all ``max_attempts`` attempts when every one fails and none sends ``Retry-After``."""
        return tuple(self.delay(attempt, rng=rng) for attempt in range(1, self.max_attempts))


def parse_retry_after(value: str | None, *, now: datetime, cap: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, within ``[0, cap]``; None if absent or unreadable.

    Both forms of RFC 9110 are understood: delta-seconds (``"120"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, counted from ``now``; a date in the past means no wait).
    """
    if now.tzinfo is None:
        raise ValueError(f"parse_retry_after needs an aware 'now', got {now.isoformat()}")
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(min(int(text), cap))  # int compare: no float overflow
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), cap)
