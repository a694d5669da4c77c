"""The stores a server runs on: escalations (with the outbox) and incidents, opened from the ``storage``
section (SQLite by default) or handed in (tests, embedding)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from tocsin.clock import Clock
from tocsin.config.serving import StorageBackend, StorageSettings
from tocsin.errors import TocsinError
from tocsin.registry import Registry
from tocsin.server.errors import ServerError
from tocsin.store.interfaces import EscalationStore, IncidentStore
from tocsin.store.memory import InMemoryIncidentStore, InMemoryStore
from tocsin.store.sqlite.store import SQLiteStore

__all__ = ["Storage", "memory_storage", "open_storage", "sqlite_storage"]


def _nothing() -> None:
    return None


@attrs.frozen(kw_only=True)
class Storage:
    """An escalation store and an incident store, what /health calls them, and how to close them."""

    escalations: EscalationStore
    incidents: IncidentStore
    name: str
    close: Callable[[], None] = _nothing
    probe: Callable[[], str | None] = _nothing  # None: the store takes writes; else what is wrong (for /health)


def memory_storage(clock: Clock | None = None) -> Storage:
    """Stores in memory: nothing survives a restart. ``clock`` dates the incident history."""
    escalations = InMemoryStore()
    return Storage(escalations=escalations, incidents=InMemoryIncidentStore(clock, unit=escalations), name="memory")


def sqlite_storage(path: str, registry: Registry, clock: Clock, *, synchronous: str = "full") -> Storage:
    """Stores in the SQLite file at ``path`` (created and migrated if needed); ``synchronous`` is ``full`` or
    ``normal`` (see :class:`~tocsin.config.serving.Synchronous`).

    :raises ServerError: when the file cannot be opened (a missing directory, a newer schema, not a database).
    """
    try:
        store = SQLiteStore(path, registry, clock=clock, synchronous=synchronous)
    except TocsinError as exc:
        raise ServerError(f"storage: {exc}") from None
    except OSError as exc:
        raise ServerError(f"storage: cannot open {path}: {exc.strerror or exc}") from None
    return Storage(
        escalations=store, incidents=store.incidents, name="sqlite", close=store.close, probe=store.database.probe
    )


def open_storage(settings: StorageSettings, registry: Registry, clock: Clock) -> Storage:
    """The stores the config's ``storage`` section asks for."""
    if settings.backend is StorageBackend.MEMORY:
        return memory_storage(clock)
    return sqlite_storage(settings.path, registry, clock, synchronous=settings.synchronous.value)
