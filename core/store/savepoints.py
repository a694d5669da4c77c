"""Savepoints issued only when a write needs them: the inner blocks of a SQL store's units of work.

An inner atomic block is a savepoint, but a block that writes nothing needs none, and blocks opened one inside
the other with no write between them can share one: rolling back to it undoes exactly the inner block's
writes, since the outer one had made none before it began. Raising an incident opens half a dozen nested
blocks and writes in two of them; issuing a savepoint (and its release) for each would cost a statement, and
on a database server a round trip, apiece. :class:`LazySavepoints` keeps that bookkeeping; a store calls
:meth:`LazySavepoints._issue` just before each write and says how savepoint statements run.
"""

from __future__ import annotations

from tocsin.store.unit import UnitOfWork

__all__ = ["LazySavepoints"]


class LazySavepoints(UnitOfWork):
    """A unit of work whose inner blocks get a savepoint at their first write (see the module's docs).

    Subclasses implement :meth:`_run_savepoint` (run one statement, raising the store's error) and
    :meth:`_undo_savepoint` (roll back to a savepoint, ignoring errors: the block is being abandoned), call
    :meth:`_forget_savepoints` when the outermost block begins, and :meth:`_issue` before every write.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[int] = []  # depths of inner blocks whose savepoint is not issued yet (innermost last)
        self._shared: dict[int, int] = {}  # depth of an inner block -> the depth whose savepoint it uses

    def _run_savepoint(self, sql: str) -> None:
        """Run a ``SAVEPOINT`` or ``RELEASE SAVEPOINT`` statement in the open transaction."""
        raise NotImplementedError

    def _undo_savepoint(self, name: str, *, release: bool) -> None:
        """``ROLLBACK TO SAVEPOINT name`` (and release it, with ``release``), ignoring errors."""
        raise NotImplementedError

    def _forget_savepoints(self) -> None:
        self._pending.clear()
        self._shared.clear()

    def _savepoint(self, depth: int) -> None:
        self._pending.append(depth)

    def _issue(self) -> None:
        """Issue the savepoint the innermost blocks are waiting for, before a write."""
        pending = self._pending
        if not pending:
            return
        owner = pending[0]
        self._run_savepoint(f"SAVEPOINT unit_{owner}")
        for depth in pending:
            self._shared[depth] = owner
        pending.clear()

    def _release(self, depth: int) -> None:
        if self._pending and self._pending[-1] == depth:
            self._pending.pop()
            return
        if self._shared.pop(depth) != depth:
            return  # the enclosing block's savepoint: it goes on
        self._run_savepoint(f"RELEASE SAVEPOINT unit_{depth}")

    def _rollback_to(self, depth: int) -> None:
        if self._pending and self._pending[-1] == depth:
            self._pending.pop()  # it wrote nothing
            return
        owner = self._shared.pop(depth)
        self._undo_savepoint(f"unit_{owner}", release=owner == depth)  # a shared savepoint stays, for its owner
