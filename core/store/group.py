"""Group commit: the writes of concurrent requests share one transaction, and each answer waits for its commit.

A server's requests arrive together; on a file store each would pay a commit of its own (the pages of every
index it touched written to the journal again, and with ``synchronous: full`` an fsync). :class:`GroupCommit`
queues each write operation and runs the queue on the next turn of the event loop as ONE outermost atomic
block, each operation in an inner block of its own::

    commits = GroupCommit(store)
    result = await commits.run(lambda: processor.process(incident))

An operation that fails rolls back its inner block only, and its caller gets the exception; the others go on.
When the shared commit itself fails, every operation of the group gets that error (none of them was kept).
What an operation registered with ``after_commit`` runs once the group has committed, before its caller
resumes: an answer is never sent for a write that is not yet durable. The group runs synchronously, so
nothing else on the loop sees one operation's writes before the group's commit is decided.

:class:`Inline` runs each operation at once in its own block: the same interface where there is nothing to
group (an in-memory store, whose commit costs nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tocsin.store.unit import UnitOfWork

__all__ = ["Commits", "GroupCommit", "Inline"]

T = TypeVar("T")

_Queued = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class _Atomic(Protocol):
    def atomic(self) -> Any: ...


class Commits(Protocol):
    """How a server runs a write operation: ``await commits.run(operation)`` is what ``operation()`` returned,
    once its unit of work is committed (or the exception it, or the commit, raised)."""

    async def run(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` in a unit of work and wait for its commit."""
        ...


class Inline:
    """Each operation in its own atomic block of ``unit``, run at once."""

    def __init__(self, unit: _Atomic) -> None:
        self._unit = unit

    async def run(self, operation: Callable[[], T]) -> T:
        """``operation()`` in one atomic block."""
        with self._unit.atomic():
            return operation()


class GroupCommit:
    """Operations queued in one turn of the event loop run in one transaction of ``unit`` (at most
    ``max_group`` of them; more start the next group at once).

    :param unit: the store whose atomic blocks the operations open (their blocks join the group's).
    :param max_group: the most operations one commit covers, so that one group cannot hold the loop long.
    :param durable: what makes a commit survive power loss when the commit itself does not (a SQLite file
        opened with ``defer_sync``: its ``sync``); run in a worker thread after each commit, so the fsync never
        holds the event loop, and the callers resume only once it returned. Groups that follow need not wait:
        one fsync covers every commit made before it.
    """

    def __init__(
        self, unit: UnitOfWork | _Atomic, *, max_group: int = 64, durable: Callable[[], None] | None = None
    ) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, got {max_group}")
        self._unit = unit
        self._max = max_group
        self._durable = durable
        self._syncing: set[asyncio.Task[None]] = set()
        self._queue: list[_Queued] = []
        self._scheduled = False
        self.groups = 0  # commits run so far (with operations counted in ``operations``)
        self.operations = 0

    async def run(self, operation: Callable[[], T]) -> T:
        """Queue ``operation`` for the next group; its result (or exception) once the group has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((operation, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        group, self._queue = self._queue[: self._max], self._queue[self._max :]
        if self._queue:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False
        group = [(operation, future) for operation, future in group if not future.cancelled()]
        if not group:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._unit.atomic():
                for operation, _ in group:
                    try:
                        with self._unit.atomic():
                            outcomes.append((True, operation()))
                    except Exception as exc:  # this operation's block is rolled back; the group goes on
                        outcomes.append((False, exc))
        except Exception as exc:  # the group could not begin or commit: nothing of it was kept
            outcomes = [(False, exc)] * len(group)
        self.groups += 1
        self.operations += len(group)
        if self._durable is not None and any(ok for ok, _ in outcomes):
            task = asyncio.get_running_loop().create_task(self._answer_when_durable(group, outcomes))
            self._syncing.add(task)
            task.add_done_callback(self._syncing.discard)
        else:
            _answer(group, outcomes)

    async def _answer_when_durable(self, group: list[_Queued], outcomes: list[tuple[bool, Any]]) -> None:
        assert self._durable is not None
        try:
            await asyncio.to_thread(self._durable)
        except Exception as exc:  # committed but maybe not on disk: no caller may say it is
            outcomes = [(False, exc)] * len(group)
        _answer(group, outcomes)


def _answer(group: list[_Queued], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(group, outcomes, strict=True):
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
