"""The stores a server runs on: escalations (with the outbox) and incidents, opened from the ``storage``
section (SQLite by default, PostgreSQL for several instances) or handed in (tests, embedding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from tocsin.clock import Clock
from tocsin.config.serving import StorageBackend, StorageSettings
from tocsin.errors import TocsinError
from tocsin.registry import Registry
from tocsin.server.errors import ServerError
from tocsin.store.interfaces import EscalationStore, IncidentStore
from tocsin.store.memory import InMemoryIncidentStore, InMemoryStore
from tocsin.store.operations import InMemoryOperations, OperationsStore
from tocsin.store.sqlite.store import SQLiteStore

__all__ = [
    "Announcements",
    "AnnouncementsFactory",
    "Storage",
    "memory_storage",
    "open_storage",
    "postgres_storage",
    "sqlite_storage",
]


def _nothing() -> None:
    return None


class Announcements(Protocol):
    """Announcements of when other instances' due work becomes claimable (PostgreSQL: LISTEN/NOTIFY), run as a
    task while the server runs (see :class:`~tocsin.store.postgres.listen.DueListener`)."""

    connected: bool
    received: int

    async def run(self) -> None: ...


# How a store's announcements are listened to: given "work is due at this instant (microseconds)" and "the
# listener (re)connected: announcements may have been missed", the listener to run.
AnnouncementsFactory = Callable[[Callable[[int], None], Callable[[], None]], Announcements]


@attrs.frozen(kw_only=True)
class Storage:
    """An escalation store, an incident store and an operations store (overrides, notes, heartbeats, maintenance
    windows), what /health calls them, and how to close them."""

    escalations: EscalationStore
    incidents: IncidentStore
    name: str
    operations: OperationsStore = attrs.field(factory=InMemoryOperations)
    close: Callable[[], None] = _nothing
    probe: Callable[[], str | None] = _nothing  # None: the store takes writes; else what is wrong (for /health)
    group_commit: bool = False  # concurrent requests' writes share one commit (a file store: see tocsin.store.group)
    sync: Callable[[], None] | None = None  # makes commits durable, off the event loop (see GroupCommit's durable)
    shared: bool = False  # other processes may run on the same store (a file or a database, not memory)
    clock: Clock | None = None  # the clock instances sharing the store agree on (PostgreSQL: the database's)
    # An instance starting on the store picks up its open escalations; False for a fleet's store (PostgreSQL):
    # the other instances run theirs, and what nobody runs is claimed when it comes due.
    adopt_on_start: bool = True
    # Announcements of other instances' due work (PostgreSQL); None: the poll every claim_every_seconds alone.
    announcements: AnnouncementsFactory | None = None


def memory_storage(clock: Clock | None = None) -> Storage:
    """Stores in memory: nothing survives a restart. ``clock`` dates the incident history."""
    escalations = InMemoryStore()
    return Storage(
        escalations=escalations,
        incidents=InMemoryIncidentStore(clock, unit=escalations),
        operations=InMemoryOperations(unit=escalations),
        name="memory",
    )


# The longest one store call of the server waits on another process's lock, holding the event loop meanwhile;
# a request or delivery that meets the lock is tried again after an asynchronous wait instead (see endpoints).
SERVER_BUSY_TIMEOUT_MS = 25


def sqlite_storage(
    path: str,
    registry: Registry,
    clock: Clock,
    *,
    synchronous: str = "full",
    busy_timeout_ms: int = SERVER_BUSY_TIMEOUT_MS,
) -> Storage:
    """Stores in the SQLite file at ``path`` (created and migrated if needed); ``synchronous`` is ``full`` or
    ``normal`` (see :class:`~tocsin.config.serving.Synchronous`); with ``full``, the log is synced by the group
    commit in a worker thread before an answer is sent, never in a commit on the event loop. A call that meets
    another process's lock fails after ``busy_timeout_ms`` with :class:`~tocsin.store.errors.StoreBusyError`,
    which the server retries.

    :raises ServerError: when the file cannot be opened (a missing directory, a newer schema, not a database).
    """
    try:
        store = SQLiteStore(
            path, registry, clock=clock, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms, defer_sync=True
        )
    except TocsinError as exc:
        raise ServerError(f"storage: {exc}") from None
    except OSError as exc:
        raise ServerError(f"storage: cannot open {path}: {exc.strerror or exc}") from None
    return Storage(
        escalations=store,
        incidents=store.incidents,
        operations=store.operations,
        name="sqlite",
        close=store.close,
        probe=store.database.probe,
        group_commit=True,
        sync=store.database.sync if store.database.defers_sync else None,
        shared=True,
    )


def postgres_storage(
    dsn: str,
    registry: Registry,
    clock: Clock,
    *,
    migrate_on_start: bool = True,
    database_clock: bool = True,
) -> Storage:
    """Stores in the PostgreSQL database ``dsn`` (its schema migrated first with ``migrate_on_start``, else a
    schema that is behind is refused). Concurrent requests' writes share one commit, as on SQLite. With
    ``database_clock``, "now" is the database server's (a :class:`~tocsin.store.postgres.clock.DatabaseClock`
    over ``clock``), so instances whose own clocks disagree still agree on what is due.

    :raises ServerError: when the database cannot be reached or its schema is newer (or behind).
    """
    from tocsin.store.postgres.clock import DatabaseClock  # psycopg is loaded only for this backend
    from tocsin.store.postgres.listen import DueListener
    from tocsin.store.postgres.store import PostgresStore

    try:
        store = PostgresStore(dsn, registry, clock=clock, migrate_schema=migrate_on_start)
    except TocsinError as exc:
        raise ServerError(f"storage: {exc}") from None
    shared_clock = None
    if database_clock:
        shared_clock = store.database.clock = DatabaseClock(store.database, local=clock)
        shared_clock.measure()
    return Storage(
        escalations=store,
        incidents=store.incidents,
        operations=store.operations,
        name="postgresql",
        close=store.close,
        probe=store.database.probe,
        group_commit=True,
        shared=True,
        clock=shared_clock,
        adopt_on_start=False,
        announcements=lambda on_due, on_connected: DueListener(dsn, on_due, on_connected=on_connected),
    )


def open_storage(settings: StorageSettings, registry: Registry, clock: Clock, *, own_clock: bool = True) -> Storage:
    """The stores the config's ``storage`` section asks for. ``own_clock``: a store whose instances agree on a
    clock of their own (PostgreSQL's) keeps time by it; ``False`` keeps ``clock`` (a test's manual clock)."""
    if settings.backend is StorageBackend.MEMORY:
        return memory_storage(clock)
    if settings.backend is StorageBackend.POSTGRESQL:
        try:
            dsn = settings.database_url()
        except LookupError as exc:
            raise ServerError(str(exc)) from None
        return postgres_storage(
            dsn, registry, clock, migrate_on_start=settings.migrate_on_start, database_clock=own_clock
        )
    return sqlite_storage(settings.path, registry, clock, synchronous=settings.synchronous.value)
