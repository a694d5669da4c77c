"""The store's own errors: a store that cannot be used, and a compare-and-set write that lost."""

from __future__ import annotations

from tocsin.errors import TocsinError

__all__ = ["StaleStateError", "StoreError"]


class StoreError(TocsinError):
    """The store cannot be opened or used: a file that is not a tocsin database, a newer schema, a lock."""


class StaleStateError(TocsinError):
    """A compare-and-set write lost: the stored escalation changed since it was read (another instance)."""
