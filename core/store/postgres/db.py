"""One PostgreSQL database shared by the escalation store and the incident store (psycopg 3, a small pool).

Every write happens in an atomic block (:class:`~tocsin.store.unit.UnitOfWork`): the outermost takes a
connection from the pool and is one explicit ``BEGIN`` ... ``COMMIT``; a block inside it that writes gets a
savepoint before its first write (:mod:`tocsin.store.savepoints`), so a write that fails inside an inner block
(PostgreSQL aborts the whole transaction on an error) is undone with that block alone and the enclosing one
goes on. Reads outside a block take any pooled connection. The
pool checks a connection before handing it out, so after the database restarts the next operation
reconnects instead of failing on a dead socket. Documents are JSON written with the kernel's converter.
"""

from __future__ import annotations

import contextlib
import json
import select
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import cattrs
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from tocsin.clock import Clock, SystemClock
from tocsin.convert import make_converter
from tocsin.jsontext import dumps
from tocsin.models import EscalationPolicy, Incident
from tocsin.registry import Registry
from tocsin.store.errors import StoreBusyError, StoreError
from tocsin.store.postgres.schema import check_version, migrate
from tocsin.store.savepoints import LazySavepoints

__all__ = ["PostgresDatabase", "first_line", "safe_dsn"]

T = TypeVar("T")


def safe_dsn(dsn: str) -> str:
    """``dsn`` as it may be shown: without its password."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "postgresql database"
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class PostgresDatabase(LazySavepoints):
    """An open tocsin database on a PostgreSQL server.

    :param dsn: a libpq connection string or URI (``postgresql://user@host:5432/tocsin``).
    :param registry: the plugin registry the documents' variants are looked up in.
    :param clock: where "now" comes from for what the store stamps itself (incident history).
    :param migrate_schema: bring the schema up to date on open (else a database behind is refused).
    :param pool_size: the most connections this process holds.
    :param connect_timeout: seconds to wait for a connection (the server unreachable: ``StoreError``).
    """

    def __init__(
        self,
        dsn: str,
        registry: Registry,
        *,
        clock: Clock | None = None,
        migrate_schema: bool = True,
        pool_size: int = 4,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.dsn = dsn
        self.path = safe_dsn(dsn)  # what errors and /health call the database
        self.last_fault: str | None = None
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = self._unit_lock
        self._timeout = connect_timeout
        self._held: psycopg.Connection[Any] | None = None  # the connection of the open transaction
        self._kept: psycopg.Connection[Any] | None = None  # the connection kept between operations
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            check=ConnectionPool.check_connection,
            open=False,
            name="tocsin",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            with self._pool.connection(timeout=connect_timeout) as connection:
                if migrate_schema:
                    migrate(connection, self.path)
                check_version(connection, self.path)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(f"store {self.path}: cannot connect within {connect_timeout:g} s") from None
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(f"store {self.path}: {first_line(exc)}") from None
        except StoreError:
            self._pool.close()
            raise
        self._converter = converter = make_converter(registry)
        for cls in (EscalationPolicy, Incident):  # a snapshot structured once may be passed in as it is
            converter.register_structure_hook(cls, _passthrough(cls, converter.get_structure_hook(cls)))
        self._dumps = dumps

    # --- blocks ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """An atomic block: ``BEGIN`` ... ``COMMIT`` when outermost, a savepoint inside another block. Any
        exception rolls the block back and propagates (a database fault as ``StoreError`` naming the database)."""
        with self._lock:
            try:
                with self.atomic():
                    connection = self._held
                    assert connection is not None
                    self._issue()
                    yield connection
            except psycopg.Error as exc:
                raise _fault(exc, f"store {self.path}: {first_line(exc)}") from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for reads: the open transaction's, else a pooled one (a fault becomes ``StoreError``)."""
        with self._lock:
            try:
                if self._held is not None:
                    yield self._held
                    return
                yield self._connection()
            except PoolTimeout:
                raise StoreError(f"store {self.path}: no connection within {self._timeout:g} s") from None
            except psycopg.Error as exc:
                raise _fault(exc, f"store {self.path}: {first_line(exc)}") from None

    def serialize_on(self, kind: str, key: str) -> None:
        """Inside a transaction: wait until no other transaction holds ``kind``/``key``, then hold it until
        this one ends (an advisory lock). What a look-up-then-insert needs across instances: of two instances
        raising an incident with one dedup key at once, the second sees the first's incident once it commits."""
        connection = self._held
        if connection is None:
            return
        try:
            connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{kind}:{key}",))
        except psycopg.Error as exc:
            raise _fault(exc, f"store {self.path}: {first_line(exc)}") from None

    def _begin(self) -> None:
        self._forget_savepoints()
        try:
            connection = self._connection()
        except PoolTimeout:
            self.last_fault = f"store {self.path}: no connection within {self._timeout:g} s"
            raise StoreError(self.last_fault) from None
        try:
            connection.execute("BEGIN")
        except psycopg.Error as exc:
            self._drop()
            self.last_fault = f"store {self.path}: cannot begin a transaction: {first_line(exc)}"
            raise _fault(exc, self.last_fault) from None
        self._held = connection

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection this process works on, kept between operations (the pool checks a connection with a
        round trip when it hands one out; one kept needs none). One the server has closed or written to unasked
        (it said goodbye when it restarted) is given back and a fresh one taken."""
        kept = self._kept
        if kept is not None:
            if not kept.closed and kept.info.transaction_status == _IDLE and not _readable(kept):
                return kept
            self._drop()
        self._kept = self._open().getconn(timeout=self._timeout)
        return self._kept

    def _drop(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            self._give_back(kept)

    def _commit(self) -> None:
        connection, self._held = self._held, None
        assert connection is not None
        try:
            connection.execute("COMMIT")
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                connection.execute("ROLLBACK")
            self._drop()
            self.last_fault = f"store {self.path}: commit failed: {first_line(exc)}"
            raise _fault(exc, self.last_fault) from None
        self.last_fault = None

    def _rollback(self) -> None:
        connection, self._held = self._held, None
        if connection is None:
            return
        try:
            connection.execute("ROLLBACK")
        except psycopg.Error:
            self._drop()

    def _run_savepoint(self, sql: str) -> None:
        connection = self._held
        if connection is None:
            raise StoreError(f"store {self.path}: no transaction is open")
        try:
            connection.execute(sql)
        except psycopg.Error as exc:
            raise _fault(exc, f"store {self.path}: {first_line(exc)}") from None

    def _undo_savepoint(self, name: str, *, release: bool) -> None:
        connection = self._held
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.execute(f"ROLLBACK TO SAVEPOINT {name}")
                if release:
                    connection.execute(f"RELEASE SAVEPOINT {name}")

    def _give_back(self, connection: psycopg.Connection[Any]) -> None:
        pool = self._pool
        if pool is not None:
            pool.putconn(connection)
        else:
            connection.close()

    def _open(self) -> ConnectionPool[psycopg.Connection[Any]]:
        if self._pool is None:
            raise StoreError(f"store {self.path} is closed")
        return self._pool

    # --- health ------------------------------------------------------------------------------------------

    def probe(self) -> str | None:
        """Whether the database takes writes now: None when it does, else what is wrong (unreachable, a
        read-only standby). Waits at most a moment: for /health. Busy in this process, it answers with the
        latest write's fault."""
        if not self._lock.acquire(timeout=0.2):
            return self.last_fault
        try:
            with self._open().connection(timeout=min(self._timeout, 1.0)) as connection:
                (read_only,) = connection.execute("SELECT pg_is_in_recovery()").fetchone() or (False,)
            if read_only:
                return f"store {self.path}: the server is a read-only standby"
            self.last_fault = None  # reachable and writable again: what failed before was the way there
            return None
        except PoolTimeout:
            return f"store {self.path}: cannot connect"
        except (psycopg.Error, StoreError) as exc:
            return f"store {self.path}: {first_line(exc)}"
        finally:
            self._lock.release()

    def sync(self) -> None:
        """Nothing to do: a PostgreSQL commit is durable when it returns (``synchronous_commit`` on)."""

    # --- documents ---------------------------------------------------------------------------------------

    def dump(self, value: Any) -> str:
        """``value`` (an attrs instance) as compact JSON."""
        return self._dumps(self._converter.unstructure(value))

    def dump_data(self, data: Any) -> str:
        """Already unstructured ``data`` as compact JSON."""
        return self._dumps(data)

    @property
    def converter(self) -> cattrs.Converter:
        """The converter documents are written and read with."""
        return self._converter

    def load(self, text: str, cls: type[T], where: str = "") -> T:
        """Structure the JSON ``text`` as ``cls``; a document that no longer fits is a ``StoreError``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StoreError(f"store {self.path}: {where or cls.__name__} holds invalid JSON: {exc}") from None
        return self.structure(data, cls, where)

    def structure(self, data: Any, cls: type[T], where: str = "") -> T:
        """Structure plain ``data`` as ``cls`` (see :meth:`load`)."""
        try:
            return self._converter.structure(data, cls)
        except Exception as exc:
            raise StoreError(f"store {self.path}: {where or cls.__name__} cannot be read: {exc}") from None

    def close(self) -> None:
        """Close every connection (a closed database refuses further use with ``StoreError``)."""
        with self._lock:
            self._drop()
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.close()


_IDLE = psycopg.pq.TransactionStatus.IDLE


def _readable(connection: psycopg.Connection[Any]) -> bool:
    """True when an idle connection has something to read: the server closed it or sent it a goodbye."""
    try:
        ready, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(ready)


def first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says (psycopg's errors run on with context lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fault(exc: psycopg.Error, message: str) -> StoreError:
    """``exc`` as the store's error: :class:`StoreBusyError` when a lock or the server's load is in the way."""
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.SerializationFailure):
        return StoreBusyError(message)
    if isinstance(exc, psycopg.errors.DeadlockDetected):
        return StoreBusyError(message)
    return StoreError(message)


def _passthrough(cls: type[T], structure: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def hook(value: Any, kind: Any) -> T:
        return value if isinstance(value, cls) else structure(value, kind)

    return hook
