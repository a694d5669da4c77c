"""The store's own errors: a store that cannot be used (for a moment, when another process holds its lock), and a
compare-and-set write that lost."""

from __future__ import annotations

from tocsin.errors import TocsinError

__all__ = ["StaleStateError", "StoreBusyError", "StoreError"]


class StoreError(TocsinError):
    """The store cannot be opened or used: a file that is not a tocsin database, a newer schema, a lock."""


class StoreBusyError(StoreError):
    """Another process holds the store's write lock past the busy timeout: nothing was written, and the same
    operation will most likely succeed once it is tried again a moment later."""


class StaleStateError(TocsinError):
    """A compare-and-set write lost: the stored escalation changed since it was read (another instance)."""
