"""One SQLite file shared by the escalation store and the incident store: a single connection behind a lock.

Every write happens in an atomic block (:class:`~tocsin.store.unit.UnitOfWork`): the outermost is one
explicit ``BEGIN IMMEDIATE`` transaction (it takes the write lock up front, so a read-check-write inside it
cannot interleave with another writer, in this process or another one), a block inside it a savepoint;
reads take the same lock. Documents are JSON written with the kernel's cattrs converter built from the
plugin registry, so plugin-provided variants (targets, contacts) round-trip by their ``type`` tag.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import cattrs

from tocsin.clock import Clock, SystemClock
from tocsin.convert import make_converter
from tocsin.jsontext import dumps
from tocsin.models import EscalationPolicy, Incident
from tocsin.registry import Registry
from tocsin.store.errors import StoreBusyError, StoreError
from tocsin.store.savepoints import LazySavepoints
from tocsin.store.sqlite.checkpoint import Checkpointer
from tocsin.store.sqlite.schema import connect, migrate

__all__ = ["SQLiteDatabase"]

T = TypeVar("T")

_OPENING_TIMEOUT_MS = 5000  # opening and migrating wait for another process's lock as long as it takes, nearly
_PROBE_TIMEOUT_MS = 20  # /health asks whether a write could begin now, not whether it could after a wait


class SQLiteDatabase(LazySavepoints):
    """An open tocsin database file (schema migrated on open).

    :param path: the file (created if missing; its directory must exist), or ``":memory:"``.
    :param registry: the plugin registry the documents' variants are looked up in.
    :param clock: where "now" comes from for what the store stamps itself (incident history).
    :param synchronous: ``"full"`` (every commit survives power loss) or ``"normal"`` (survives a crash of
        the process; faster).
    :param busy_timeout_ms: how long one statement waits for a lock another process holds before it fails
        with :class:`~tocsin.store.errors.StoreBusyError` (the server keeps this short and retries without
        holding its event loop; opening and migrating the file always waits up to 5 s).
    :param defer_sync: with ``synchronous="full"``, a commit does not sync the log to disk itself; the caller
        runs :meth:`sync` (in a worker thread, off the event loop) before telling anyone the write is
        durable. The server's group commit does; used otherwise, commits survive a crash of the process only.
    """

    def __init__(
        self,
        path: str | Path,
        registry: Registry,
        *,
        clock: Clock | None = None,
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        defer_sync: bool = False,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        super().__init__()
        self.path = str(path)
        self.last_fault: str | None = None  # why the latest write failed; None once one succeeds
        self._busy_timeout_ms = busy_timeout_ms
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = self._unit_lock  # reads and writes take the lock atomic blocks hold
        self.defers_sync = defer_sync and synchronous == "full" and self.path != ":memory:"
        self._log_fd: int | None = None
        self._connection: sqlite3.Connection | None = connect(
            self.path, synchronous="normal" if self.defers_sync else synchronous, busy_timeout_ms=_OPENING_TIMEOUT_MS
        )
        try:
            migrate(self._connection, self.path)
            self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if self.path != ":memory:":  # the log is checkpointed in a thread of its own, never in a commit
                self._connection.execute("PRAGMA wal_autocheckpoint = 0")
            if self.defers_sync:
                if not os.path.exists(self.path + "-wal"):  # SQLite makes the log with the first write
                    self._connection.execute("BEGIN IMMEDIATE")
                    self._connection.execute("UPDATE schema_version SET version = version")
                    self._connection.execute("COMMIT")
                self._log_fd = os.open(self.path + "-wal", os.O_RDONLY)
        except StoreError:
            self._connection.close()
            raise
        except sqlite3.Error as exc:
            self._connection.close()
            raise _fault(exc, f"store {self.path}: {exc}") from None
        except OSError as exc:
            self._connection.close()
            raise StoreError(f"store {self.path}: cannot open its log: {exc.strerror or exc}") from None
        self._checkpointer = Checkpointer(self.path, synchronous=synchronous) if self.path != ":memory:" else None
        self._converter = converter = make_converter(registry)
        for cls in (EscalationPolicy, Incident):  # a snapshot structured once may be passed in as it is
            converter.register_structure_hook(cls, _passthrough(cls, converter.get_structure_hook(cls)))
        self._dumps = dumps

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An atomic block on the file: ``BEGIN IMMEDIATE`` ... ``COMMIT`` when outermost, a savepoint inside
        another block. Any exception rolls the block back and propagates (a database fault as ``StoreError``
        naming the file)."""
        with self._lock:
            connection = self._open()
            try:
                with self.atomic():
                    self._issue()
                    yield connection
            except sqlite3.Error as exc:
                raise _fault(exc, f"store {self.path}: {exc}") from None

    def probe(self) -> str | None:
        """Whether the file can take a write now: None when it can, else what is wrong (locked by another
        process, read-only, the last commit failed because the disk is full). Waits at most a moment: for
        /health, which must answer fast while a write waits on a lock."""
        if not self._lock.acquire(timeout=0.2):
            return self.last_fault  # busy in this process: the last write says how the store is doing
        try:
            connection = self._open()
            connection.execute(f"PRAGMA busy_timeout = {_PROBE_TIMEOUT_MS}")
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:  # a write that is never kept: a read-only file lets the transaction begin, not this
                    connection.execute("UPDATE schema_version SET version = version")
                finally:
                    connection.execute("ROLLBACK")
            except sqlite3.Error as exc:
                return f"store {self.path}: cannot write: {exc}"
            finally:
                connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            return self.last_fault
        except (sqlite3.Error, StoreError) as exc:
            return str(exc)
        finally:
            self._lock.release()

    def _begin(self) -> None:
        self._forget_savepoints()
        try:
            self._open().execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.last_fault = f"store {self.path}: cannot begin a transaction: {exc}"
            raise _fault(exc, self.last_fault) from None

    def _commit(self) -> None:
        connection = self._open()
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            self.last_fault = f"store {self.path}: commit failed: {exc}"
            raise _fault(exc, self.last_fault) from None
        self.last_fault = None
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    def _rollback(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    def _run_savepoint(self, sql: str) -> None:
        try:
            self._open().execute(sql)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {sql.split()[0].lower()} failed: {exc}") from None

    def _undo_savepoint(self, name: str, *, release: bool) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute(f"ROLLBACK TO {name}")
                if release:
                    self._connection.execute(f"RELEASE {name}")

    def sync(self) -> None:
        """Sync the write-ahead log to disk: every commit made before the call then survives power loss (what
        ``synchronous: full`` promises, for a database opened with ``defer_sync``). Safe to call from any
        thread while others commit; a no-op when commits sync themselves.

        :raises StoreError: when the file system cannot sync the log (the commits stay, not yet durable).
        """
        if not self.defers_sync:
            return
        log = self._log_fd
        if log is None:
            raise StoreError(f"store {self.path} is closed")
        try:
            os.fsync(log)
        except OSError as exc:
            self.last_fault = f"store {self.path}: cannot sync the log to disk: {exc.strerror or exc}"
            raise StoreError(self.last_fault) from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (under the lock; a database fault becomes ``StoreError``)."""
        with self._lock:
            connection = self._open()
            try:
                yield connection
            except sqlite3.Error as exc:
                raise _fault(exc, f"store {self.path}: {exc}") from None

    def serialize_on(self, kind: str, key: str) -> None:
        """Inside a transaction: nothing to do. A SQLite transaction holds the file's write lock from its start
        (``BEGIN IMMEDIATE``), so no other writer can interleave with it; PostgreSQL takes a lock on ``key``."""

    def dump(self, value: Any) -> str:
        """``value`` (an attrs instance) as compact JSON."""
        return self._dumps(self._converter.unstructure(value))

    def dump_data(self, data: Any) -> str:
        """Already unstructured ``data`` as compact JSON."""
        return self._dumps(data)

    def unstructure(self, value: Any) -> Any:
        """``value`` as plain JSON-ready data."""
        return self._converter.unstructure(value)

    @property
    def checkpointer(self) -> Checkpointer | None:
        """What checkpoints the file's write-ahead log (None for an in-memory database, which has none)."""
        return self._checkpointer

    @property
    def converter(self) -> cattrs.Converter:
        """The converter documents are written and read with (an already structured policy snapshot or incident
        given where a document is expected is taken as it is)."""
        return self._converter

    def load(self, text: str, cls: type[T], where: str = "") -> T:
        """Structure the JSON ``text`` as ``cls``; a document that no longer fits (a plugin was removed, say)
        is a ``StoreError`` naming ``where``."""
        return self.structure(json.loads(text), cls, where)

    def structure(self, data: Any, cls: type[T], where: str = "") -> T:
        """Structure plain ``data`` as ``cls`` (see :meth:`load`)."""
        try:
            return self._converter.structure(data, cls)
        except Exception as exc:
            raise StoreError(f"store {self.path}: {where or cls.__name__} cannot be read: {exc}") from None

    def close(self) -> None:
        """Close the connection (a closed database refuses further use with ``StoreError``)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._log_fd is not None:
                os.close(self._log_fd)
                self._log_fd = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"store {self.path} is closed")
        return self._connection


def _fault(exc: sqlite3.Error, message: str) -> StoreError:
    """``exc`` as the store's error: :class:`StoreBusyError` when another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreBusyError(message)
    return StoreError(message)


def _passthrough(cls: type[T], structure: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def hook(value: Any, kind: Any) -> T:
        return value if isinstance(value, cls) else structure(value, kind)

    return hook
