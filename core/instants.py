"""Instants as integer microseconds since the Unix epoch (UTC): exact arithmetic, compact, store-friendly.

The escalation engine computes due times by adding delays to earlier due times; integers make that exact,
so a level due 5 minutes after another is due exactly 300 000 000 microseconds later, pass after pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["MICROS_PER_MINUTE", "MICROS_PER_SECOND", "from_micros", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE = timedelta(microseconds=1)
MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND


def to_micros(instant: datetime) -> int:
    """``instant`` (aware) as microseconds since the epoch."""
    if instant.tzinfo is None:
        raise ValueError(f"expected an aware date-time (with a UTC offset), got {instant.isoformat()}")
    return (instant - _EPOCH) // _ONE


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime ``micros`` microseconds after the epoch."""
    return _EPOCH + timedelta(microseconds=micros)
